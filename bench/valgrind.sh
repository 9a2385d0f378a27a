#!/usr/bin/env bash
# Runs Suricata + mqtt-ml under valgrind memcheck on every capture of the shared datasets
# (suricata-verify and mqttset-reduced; midstream pickup on for the two captures that need it) and
# sorts the errors by where they happen: in the plugin (a frame in libmqtt_ml.so), in the TensorFlow
# Lite C library the plugin loads, or elsewhere (Suricata, libc, ...).
#
#   bench/valgrind.sh                      # backend tflite, every capture
#   BACKEND=native bench/valgrind.sh       # the plugin's own forward pass
#   bench/valgrind.sh a.pcap b.pcap        # just these
#
# Environment: DATASETS (default ../shared/datasets), PLUGIN, MODEL, BACKEND, OUT (default
# /dev/shm/mqtt-ml-valgrind.PID; per-capture XML reports are kept there).
# Exit status 0 when no error and no definite leak has a frame in libmqtt_ml.so, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/env.sh
DATASETS=${DATASETS:-$ROOT/../shared/datasets}
PLUGIN=${PLUGIN:-$ROOT/target/release/libmqtt_ml.so}
MODEL=${MODEL:-$ROOT/models/mqtt-ml.tflite}
BACKEND=${BACKEND:-tflite}
OUT=${OUT:-/dev/shm/mqtt-ml-valgrind.$$}
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }

mkdir -p "$OUT/plugin"
cp "$PLUGIN" "$OUT/plugin/libmqtt_ml.so"
cp "$MODEL" "$OUT/plugin/mqtt-ml.tflite"
cp "${MODEL%.tflite}.json" "$OUT/plugin/mqtt-ml.json"

if [ $# -gt 0 ]; then
  pcaps=("$@")
else
  mapfile -t pcaps < <(find "$DATASETS/suricata-verify" "$DATASETS/mqttset-reduced" \
    -name '*.pcap' -o -name '*.pcapng' | sort)
fi
[ ${#pcaps[@]} -gt 0 ] || { echo "no captures found under $DATASETS" >&2; exit 1; }

for p in "${pcaps[@]}"; do
  name=$(basename "$p"); name=${name%.*}
  extra=()
  case $name in *midstream*|mqtt-ping*) extra=(--set stream.midstream=true) ;; esac
  rm -rf "$OUT/$name"; mkdir -p "$OUT/$name"
  start=$(date +%s)
  set +e
  valgrind --tool=memcheck --error-exitcode=3 --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --num-callers=40 --xml=yes --xml-file="$OUT/$name/vg.xml" \
    suricata -c "$SURICATA_YAML" -k none --runmode single -r "$p" -l "$OUT/$name" \
      --set "plugins.0=$OUT/plugin/libmqtt_ml.so" \
      --set "app-layer.protocols.mqtt-ml.model=$OUT/plugin/mqtt-ml.tflite" \
      --set "app-layer.protocols.mqtt-ml.backend=$BACKEND" "${extra[@]}" \
      > "$OUT/$name/stdout.txt" 2>&1
  rc=$?
  set -e
  recs=$(grep -c '"event_type":"mqtt_ml"' "$OUT/$name/eve.json" 2>/dev/null || true)
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - start ))" "${recs:-0}" "$OUT/$name/vg.xml" >> "$OUT/runs.tsv"
  echo "$name: exit $rc, ${recs:-0} mqtt_ml records, $(( $(date +%s) - start )) s" >&2
done
python3 bench/valgrind-summary.py "$OUT/runs.tsv"
