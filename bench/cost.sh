#!/usr/bin/env bash
# The cost of mqtt-ml against stock Suricata (issue 11), in one interleaved run: every figure as a
# ratio against stock Suricata on the same capture, then the per-message scoring microbenchmark.
#
#   bench/cost.sh            # 5 rounds on a 300-copy MQTT capture (about 8 minutes on 2 cores)
#   bench/cost.sh --quick    # 1 round on a 20-copy capture, short microbenchmark (smoke run)
#
# Every run: Suricata's stock suricata.yaml, no rules (-S /dev/null), -k none, --runmode single,
# output on tmpfs; process CPU (user+sys) and peak RSS from GNU time. Each round runs every
# configuration once, in order, so background load hits them alike; the table shows medians.
#
#   MQTT capture: bench/build-capture.py, COPIES time-shifted copies of the malaria, flood and
#   benign captures in pcaps/ (each copy on its own addresses)
#     stock      built-in MQTT parser, EVE `mqtt`
#     floor      MQTT parsing off (app-layer.protocols.mqtt.enabled=no)
#     default    mqtt-ml at default settings (tflite backend, every message scored and logged)
#     no-score   mqtt-ml, scoring: no
#     native     mqtt-ml, backend: native
#     anomalies  mqtt-ml, log-records: anomalies
#   SlowITe capture: 10,000 idle connections (bench/build-resource-captures.py slowite)
#     slowite-stock, slowite-default
#   Non-MQTT capture: HTTP, TLS and DNS (bench/build-nonmqtt-capture.sh, recorded once)
#     other-absent (plugin not loaded), other-loaded (plugin loaded)
#
# Generated captures are cached in $MQTT_ML_CACHE/bench/. Needs Suricata (scripts/setup.sh), the
# plugin (scripts/build-plugin.sh), python3, GNU time, and to record the non-MQTT capture once
# root, iproute2, tcpdump and openssl. Environment: ROUNDS, COPIES, PLUGIN, MODEL, BENCH_WORK, and
# ONLY (names of the configurations to run, e.g. ONLY="other-absent other-loaded" ROUNDS=15 for a
# finer non-MQTT ratio; no microbenchmark then).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/env.sh

QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
if [ $QUICK = 1 ]; then
  ROUNDS=${ROUNDS:-1}; COPIES=${COPIES:-20}; MICRO=(5000 2)
else
  ROUNDS=${ROUNDS:-5}; COPIES=${COPIES:-300}; MICRO=(50000 7)
fi
PLUGIN=${PLUGIN:-$ROOT/target/release/libmqtt_ml.so}
MODEL=${MODEL:-$ROOT/models/mqtt-ml.tflite}
CACHE=$MQTT_ML_CACHE/bench
WORK=${BENCH_WORK:-/dev/shm/mqtt-ml-cost.$$}

command -v suricata >/dev/null || { echo "suricata not found: run scripts/setup.sh" >&2; exit 1; }
for t in /usr/bin/time python3; do
  command -v "$t" >/dev/null || { echo "$t not found (apt-get install time python3)" >&2; exit 1; }
done
[ -f "$PLUGIN" ] || { echo "$PLUGIN missing: run scripts/build-plugin.sh" >&2; exit 1; }

mkdir -p "$CACHE" "$WORK/plugin"
trap 'rm -rf "$WORK"' EXIT
CAP=$CACHE/cost-${COPIES}x.pcap
SLOW=$CACHE/slowite-10k.pcap
OTHER=$CACHE/nonmqtt.pcap
if [ ! -s "$CAP" ]; then
  echo "building $CAP ($COPIES copies of the malaria, flood and benign captures) ..." >&2
  python3 bench/build-capture.py "$CAP" \
    pcaps/gen-malaria-a.pcap pcaps/gen-flood-a.pcap pcaps/gen-benign-a.pcap --copies "$COPIES" >&2
fi
[ -s "$SLOW" ] || python3 bench/build-resource-captures.py slowite "$SLOW" --conns 10000 >&2
if [ ! -s "$OTHER" ]; then
  echo "recording $OTHER (HTTP, TLS, DNS in a private network namespace, about 2 minutes) ..." >&2
  bench/build-nonmqtt-capture.sh "$OTHER.tmp" && mv "$OTHER.tmp" "$OTHER"
fi

cp "$PLUGIN" "$WORK/plugin/libmqtt_ml.so"
cp "$MODEL" "$WORK/plugin/mqtt-ml.tflite"
cp "${MODEL%.tflite}.json" "$WORK/plugin/mqtt-ml.json"
PLUG="--set plugins.0=$WORK/plugin/libmqtt_ml.so --set app-layer.protocols.mqtt-ml.model=$WORK/plugin/mqtt-ml.tflite"
ML=app-layer.protocols.mqtt-ml
# name | capture | command-line additions (word-split)
CONFIGS=(
  "stock|$CAP|"
  "floor|$CAP|--set app-layer.protocols.mqtt.enabled=no"
  "default|$CAP|$PLUG"
  "no-score|$CAP|$PLUG --set $ML.scoring=no"
  "native|$CAP|$PLUG --set $ML.backend=native"
  "anomalies|$CAP|$PLUG --set $ML.log-records=anomalies"
  "slowite-stock|$SLOW|"
  "slowite-default|$SLOW|$PLUG"
  "other-absent|$OTHER|"
  "other-loaded|$OTHER|$PLUG"
)
RESULTS=$WORK/results.tsv
: > "$RESULTS"
echo "load before: $(uptime)" >&2
for r in $(seq 1 "$ROUNDS"); do
  for c in "${CONFIGS[@]}"; do
    IFS='|' read -r name cap extra <<< "$c"
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
    out=$WORK/run
    rm -rf "$out"; mkdir -p "$out"
    load=$(cut -d' ' -f1 /proc/loadavg)
    # shellcheck disable=SC2086
    /usr/bin/time -f '%U %S %M %e' -o "$out/time.txt" \
      suricata -c "$SURICATA_YAML" -S /dev/null -k none --runmode single -r "$cap" -l "$out" $extra \
      > "$out/stdout.txt" 2>&1 || { echo "run $name/$r failed:" >&2; tail -5 "$out/stdout.txt" >&2; exit 1; }
    ml=$(grep -c '"event_type":"mqtt_ml"' "$out/eve.json" || true)
    mq=$(grep -c '"event_type":"mqtt"' "$out/eve.json" || true)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$r" "$(cat "$out/time.txt")" "$load" "$ml" "$mq" >> "$RESULTS"
    tail -n1 "$RESULTS" >&2
  done
done
echo "load after: $(uptime)" >&2
python3 bench/cost-report.py "$RESULTS" "$CAP" "$SLOW" "$OTHER"
[ -z "${ONLY:-}" ] || exit 0
echo
echo "per-message scoring (cargo bench --bench score -- ${MICRO[*]}):"
cargo bench --quiet --bench score -- "${MICRO[@]}" 2>/dev/null | grep -E "per message|ns/message"
