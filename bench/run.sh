#!/usr/bin/env bash
# Throughput and memory of Suricata + mqtt-ml against stock Suricata, on one large capture.
#
#   bench/run.sh                 # 5 interleaved rounds of every configuration, then the table
#   ROUNDS=3 bench/run.sh        # fewer rounds
#   CONFIGS="a b c d" bench/run.sh
#
# Configurations (all: Suricata's stock suricata.yaml, -k none, output on tmpfs):
#   a   stock Suricata, built-in MQTT parser and EVE `mqtt` logging          --runmode single
#   b   built-in MQTT disabled (app-layer.protocols.mqtt.enabled=no): floor  --runmode single
#   c   + mqtt-ml, backend tflite                                            --runmode single
#   d   + mqtt-ml, backend native                                            --runmode single
#   a2, c2, d2  a, c, d with --runmode autofp and 2 worker threads
# Every round runs every configuration once, in order, so background load hits them alike.
#
# The capture (bench/build-capture.py, BENCH_COPIES copies of pcaps/*.pcap, default 280: about
# 1.0 M MQTT messages) and its tshark message count are built once into $MQTT_ML_CACHE/bench/.
# The plugin, model and metadata are copied to a private directory first, so a rebuild during the
# run changes nothing. Afterwards the (flow, msg_index) -> score maps of c vs c2 and d vs d2 are
# compared exactly (thread-count consistency), and c vs d (backend agreement).
# Environment: ROUNDS, CONFIGS, BENCH_COPIES, BENCH_WORK (default /dev/shm/mqtt-ml-bench.PID),
# PLUGIN (default target/release/libmqtt_ml.so), MODEL (default models/mqtt-ml.tflite).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/env.sh

ROUNDS=${ROUNDS:-5}
CONFIGS=${CONFIGS:-"a b c d a2 c2 d2"}
COPIES=${BENCH_COPIES:-280}
PLUGIN=${PLUGIN:-$ROOT/target/release/libmqtt_ml.so}
MODEL=${MODEL:-$ROOT/models/mqtt-ml.tflite}
CACHE=$MQTT_ML_CACHE/bench
CAP=$CACHE/bench-${COPIES}x.pcap
WORK=${BENCH_WORK:-/dev/shm/mqtt-ml-bench.$$}

command -v suricata >/dev/null || { echo "suricata not found: run scripts/setup.sh" >&2; exit 1; }
for t in tshark capinfos /usr/bin/time python3; do
  command -v "$t" >/dev/null || { echo "$t not found (apt-get install tshark time python3)" >&2; exit 1; }
done
[ -f "$PLUGIN" ] || { echo "$PLUGIN missing: run scripts/build-plugin.sh" >&2; exit 1; }

mkdir -p "$CACHE"
if [ ! -s "$CAP" ] || [ ! -s "$CAP.meta" ]; then
  echo "building $CAP ($COPIES copies of pcaps/*.pcap) ..." >&2
  python3 bench/build-capture.py "$CAP" --copies "$COPIES" >&2
  echo "counting MQTT messages with tshark (once) ..." >&2
  msgs=$(tshark -r "$CAP" -Y mqtt -T fields -e mqtt.msgtype -d tcp.port==18830,mqtt 2>/dev/null \
         | tr ',' '\n' | grep -c .)
  pkts=$(capinfos -M -c -T "$CAP" | awk -F'\t' 'NR==2 {print $2}')
  printf 'packets\t%s\nmessages\t%s\n' "$pkts" "$msgs" > "$CAP.meta"
fi
PKTS=$(awk -F'\t' '$1=="packets"{print $2}' "$CAP.meta")
MSGS=$(awk -F'\t' '$1=="messages"{print $2}' "$CAP.meta")

mkdir -p "$WORK/plugin"
trap 'rm -rf "$WORK"/run-*' EXIT
cp "$PLUGIN" "$WORK/plugin/libmqtt_ml.so"
cp "$MODEL" "$WORK/plugin/mqtt-ml.tflite"
cp "${MODEL%.tflite}.json" "$WORK/plugin/mqtt-ml.json"
RESULTS=$WORK/results.tsv
: > "$RESULTS"

PLUG=(--set "plugins.0=$WORK/plugin/libmqtt_ml.so"
      --set "app-layer.protocols.mqtt-ml.model=$WORK/plugin/mqtt-ml.tflite")
# autofp with -r: one packet-reading thread and detect-thread-ratio x CPUs workers. The ratio is
# set so that exactly 2 workers run whatever nproc is.
TWO=(--runmode autofp --set "threading.detect-thread-ratio=$(python3 -c "import os; print(2/os.cpu_count())")")

args_for() {
  case $1 in
    a)  echo --runmode single ;;
    b)  echo --runmode single --set app-layer.protocols.mqtt.enabled=no ;;
    c)  echo --runmode single "${PLUG[@]}" ;;
    d)  echo --runmode single "${PLUG[@]}" --set app-layer.protocols.mqtt-ml.backend=native ;;
    a2) echo "${TWO[@]}" ;;
    c2) echo "${TWO[@]}" "${PLUG[@]}" ;;
    d2) echo "${TWO[@]}" "${PLUG[@]}" --set app-layer.protocols.mqtt-ml.backend=native ;;
    *)  echo "unknown configuration $1" >&2; exit 1 ;;
  esac
}

echo "capture: $CAP ($PKTS packets, $MSGS MQTT messages); nproc $(nproc); rounds $ROUNDS" >&2
for r in $(seq 1 "$ROUNDS"); do
  for c in $CONFIGS; do
    out=$WORK/run-$c-$r
    rm -rf "$out"; mkdir -p "$out"
    load=$(cut -d' ' -f1 /proc/loadavg)
    t0=$(date +%s.%N)
    # shellcheck disable=SC2046
    /usr/bin/time -v -o "$out/time.txt" suricata -c "$SURICATA_YAML" -k none -r "$CAP" -l "$out" \
      $(args_for "$c") > "$out/stdout.txt" 2>&1 || { echo "run $c/$r failed:" >&2; tail -5 "$out/stdout.txt" >&2; exit 1; }
    t1=$(date +%s.%N)
    python3 bench/run-extract.py "$c" "$r" "$t0" "$t1" "$load" "$out" "$WORK" $([ "$r" = 1 ] && echo --scores) >> "$RESULTS"
    tail -n1 "$RESULTS" >&2
    rm -rf "$out"
  done
done
python3 bench/report.py "$RESULTS" "$PKTS" "$MSGS" "$WORK"
