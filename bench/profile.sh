#!/usr/bin/env bash
# Where the plugin's time goes: perf (software cpu-clock sampling, DWARF call graphs; hardware
# counters are not needed) over Suricata + mqtt-ml on a smaller copy of the benchmark capture,
# then the inclusive share of the main stages.
#   bench/profile.sh            # 10 copies of pcaps/*.pcap (~36k messages), backend tflite
#   COPIES=20 BACKEND=native bench/profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/env.sh
COPIES=${COPIES:-10}
BACKEND=${BACKEND:-tflite}
PLUGIN=${PLUGIN:-$ROOT/target/release/libmqtt_ml.so}
MODEL=${MODEL:-$ROOT/models/mqtt-ml.tflite}
WORK=${BENCH_WORK:-/dev/shm/mqtt-ml-profile.$$}
CAP=$MQTT_ML_CACHE/bench/bench-${COPIES}x.pcap
command -v perf >/dev/null || { echo "perf not found (apt-get install linux-perf)" >&2; exit 1; }
mkdir -p "$WORK/plugin" "$(dirname "$CAP")"
[ -s "$CAP" ] || python3 bench/build-capture.py "$CAP" --copies "$COPIES" >&2
cp "$PLUGIN" "$WORK/plugin/libmqtt_ml.so"
cp "$MODEL" "$WORK/plugin/mqtt-ml.tflite"
cp "${MODEL%.tflite}.json" "$WORK/plugin/mqtt-ml.json"
perf record -q -e cpu-clock -F 1999 --call-graph dwarf,32768 -o "$WORK/perf.data" -- \
  suricata -c "$SURICATA_YAML" -k none --runmode single -r "$CAP" -l "$WORK" \
    --set "plugins.0=$WORK/plugin/libmqtt_ml.so" \
    --set "app-layer.protocols.mqtt-ml.model=$WORK/plugin/mqtt-ml.tflite" \
    --set "app-layer.protocols.mqtt-ml.backend=$BACKEND" > "$WORK/suricata.out" 2>&1
perf report -i "$WORK/perf.data" --children --sort symbol --stdio -g none --percent-limit 0.2 \
  2>/dev/null | grep -v '^#' | grep -v '^$' | sed -E 's/ +- +- *$//; s/  +/ /g' > "$WORK/children.txt"
pick() { grep -m1 -E "\] (<[^ ]+ as )?$1( |\$)" "$WORK/children.txt" | awk '{print $1}'; }
printf '%-62s %s\n' "stage (inclusive share of all samples)" "share"
while IFS='|' read -r label sym; do
  printf '%-62s %s\n' "$label" "$(pick "$sym" || true)"
done <<'EOF2'
whole packet pipeline (FlowWorker)|FlowWorker
 TCP stream handling (StreamTcpPacket)|StreamTcpPacket
  app-layer parsing, all (AppLayerParserParse)|AppLayerParserParse
   plugin parser callback (parser::parse)|mqtt_ml::suricata::parser::parse
    framing + timing + counters (Session::parse)|mqtt_ml::flow::session::Session::parse
     wire parser (wire::framing::parse_message)|mqtt_ml::wire::framing::parse_message
    scoring (scoring::assess)|mqtt_ml::suricata::scoring::assess
     feature vector (features::vector::extract)|mqtt_ml::features::vector::extract
     model (Scorer::reconstruct)|mqtt_ml::model::Scorer>::reconstruct
 all EVE output (OutputLoggerLog)|OutputLoggerLog
  plugin EVE logger (log::log_tx)|mqtt_ml::suricata::log::log_tx
   the mqtt_ml object (eve::record::write_record)|mqtt_ml::eve::record::write_record
    floats (JsonSink::set_float)|mqtt_ml::eve::sink::JsonSink>::set_float
  writing EVE lines to the file (LogFileWrite)|LogFileWrite
start-up and shutdown (main)|main
EOF2
echo "dso shares (self):"
perf report -i "$WORK/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null \
  | grep -v '^#' | grep -v '^$' | head -6
echo "full list: $WORK/children.txt"
