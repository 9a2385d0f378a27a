#!/usr/bin/env bash
# Splits the plugin's CPU cost by switching its stages off, on a smaller copy of the benchmark
# capture (COPIES, default 40), interleaved ROUNDS (default 5); CPU = user+sys of the process:
#   a        stock Suricata (built-in MQTT, EVE mqtt)
#   b        no MQTT parser (floor)
#   c        mqtt-ml (tflite), EVE mqtt_ml records on
#   c-noscore   the same, scoring: no          (cost of features + model = c - c-noscore)
#   c-noeve     the same, eve-follow-mqtt: no   (no mqtt_ml records: cost of EVE = c - c-noeve)
#   c-bare      scoring: no and eve-follow-mqtt: no (parsing, framing, timing, counters only)
# Also prints the EVE bytes written per configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/env.sh
COPIES=${COPIES:-40}
ROUNDS=${ROUNDS:-5}
PLUGIN=${PLUGIN:-$ROOT/target/release/libmqtt_ml.so}
MODEL=${MODEL:-$ROOT/models/mqtt-ml.tflite}
WORK=${BENCH_WORK:-/dev/shm/mqtt-ml-decompose.$$}
CAP=$MQTT_ML_CACHE/bench/bench-${COPIES}x.pcap
mkdir -p "$WORK/plugin" "$(dirname "$CAP")"
trap 'rm -rf "$WORK"/run' EXIT
[ -s "$CAP" ] || python3 bench/build-capture.py "$CAP" --copies "$COPIES" >&2
cp "$PLUGIN" "$WORK/plugin/libmqtt_ml.so"
cp "$MODEL" "$WORK/plugin/mqtt-ml.tflite"
cp "${MODEL%.tflite}.json" "$WORK/plugin/mqtt-ml.json"
P="--set plugins.0=$WORK/plugin/libmqtt_ml.so --set app-layer.protocols.mqtt-ml.model=$WORK/plugin/mqtt-ml.tflite"
K=app-layer.protocols.mqtt-ml
declare -A ARGS=(
  [a]=""
  [b]="--set app-layer.protocols.mqtt.enabled=no"
  [c]="$P"
  [c-noscore]="$P --set $K.scoring=no"
  [c-noeve]="$P --set $K.eve-follow-mqtt=no"
  [c-bare]="$P --set $K.scoring=no --set $K.eve-follow-mqtt=no"
)
ORDER="a b c c-noscore c-noeve c-bare"
: > "$WORK/cpu.tsv"
for r in $(seq 1 "$ROUNDS"); do
  for c in $ORDER; do
    rm -rf "$WORK/run"; mkdir -p "$WORK/run"
    # shellcheck disable=SC2086
    /usr/bin/time -f '%U %S %M' -o "$WORK/run/time.txt" suricata -c "$SURICATA_YAML" -k none \
      --runmode single -r "$CAP" -l "$WORK/run" ${ARGS[$c]} > /dev/null 2>&1
    read -r u s m < "$WORK/run/time.txt"
    printf '%s\t%s\t%s\t%s\n' "$c" "$(echo "$u + $s" | bc)" "$m" "$(stat -c %s "$WORK/run/eve.json")" >> "$WORK/cpu.tsv"
  done
done
python3 - "$WORK/cpu.tsv" "$ORDER" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    c, cpu, rss, eve = line.split("\t")
    rows.setdefault(c, []).append((float(cpu), int(rss), int(eve)))
a = statistics.median(x[0] for x in rows["a"])
print(f"{'config':<11}{'CPU s':>8}{'x a':>7}{'RSS MiB':>9}{'EVE MB':>9}")
for c in sys.argv[2].split():
    cpu = statistics.median(x[0] for x in rows[c])
    rss = statistics.median(x[1] for x in rows[c]) / 1024
    eve = statistics.median(x[2] for x in rows[c]) / 1e6
    print(f"{c:<11}{cpu:>8.2f}{cpu / a:>7.2f}{rss:>9.0f}{eve:>9.1f}")
PY
