#!/usr/bin/env bash
# Peak memory with many never-closed connections, each holding the most per-connection state a
# client can make the plugin hold (bench/build-resource-captures.py worst: 1,024 topic aliases of
# 64-byte topics, 64 unacknowledged QoS 2 PUBLISHes, a PUBLISH left incomplete after 300
# one-byte segments that fill the packet log). The capture is built once into
# $MQTT_ML_CACHE/bench/worst-10k.pcap (about 1 GB); its prefixes hold the first CONNS connections.
# For each connection count, each configuration runs once, `--runmode single`, EVE off (stats.log
# only, a dump every second), scoring off:
#   stock    Suricata's built-in MQTT parser, no plugin
#   none     no MQTT parser at all (Suricata's own per-connection cost: flow, TCP session, segments)
#   mem0     mqtt-ml, memcap 0 (no limit)
#   mem64    mqtt-ml, memcap 64mb (the default)
#   mem16    mqtt-ml, memcap 16mb
# Prints one row per run: connections, configuration, peak RSS (MiB, /usr/bin/time -v), wall
# seconds, mqtt_ml.memuse_peak, mqtt_ml.memcap_refusals, MQTT flows, and Suricata's own accounted
# memory at its largest (tcp.memuse + tcp.reassembly_memuse + flow.memuse, MiB).
#   bench/worst-case.sh        # about 3 min; CONNS="2000 5000 10000" CONFIGS="stock none mem0 ..."
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/env.sh
PLUGIN=${PLUGIN:-$ROOT/target/release/libmqtt_ml.so}
CONNS=${CONNS:-2000 5000 10000}
CONFIGS=${CONFIGS:-stock none mem0 mem64 mem16}
CACHE=$MQTT_ML_CACHE/bench
WORK=${BENCH_WORK:-$CACHE/worst-work.$$}
mkdir -p "$CACHE" "$WORK"
trap 'rm -rf "$WORK"' EXIT
BIG=$CACHE/worst-10k.pcap
[ -s "$BIG" ] && [ -s "$BIG.idx" ] \
  || python3 bench/build-resource-captures.py worst "$BIG" --conns 10000 >&2

PLUG=(--set "plugins.0=$PLUGIN" --set app-layer.protocols.mqtt-ml.scoring=no)
args_for() {
  case $1 in
    stock) echo ;;
    none)  echo --set app-layer.protocols.mqtt.enabled=no ;;
    mem0)  echo "${PLUG[@]}" --set app-layer.protocols.mqtt-ml.memcap=0 ;;
    mem64) echo "${PLUG[@]}" ;;
    mem16) echo "${PLUG[@]}" --set app-layer.protocols.mqtt-ml.memcap=16mb ;;
  esac
}
printf 'conns\tconfig\trss_mib\twall_s\tmemuse_peak\tmemcap_refusals\tmqtt_flows\tsuricata_memuse_mib\n'
for n in $CONNS; do
  size=$(awk -v n="$n" '$1 == n {print $2}' "$BIG.idx")
  [ -n "$size" ] || { echo "no mark for $n connections in $BIG.idx" >&2; exit 1; }
  cap=$WORK/worst-$n.pcap
  head -c "$size" "$BIG" > "$cap"
  for c in $CONFIGS; do
    out=$WORK/run-$n-$c; rm -rf "$out"; mkdir -p "$out"
    start=$(date +%s.%N)
    # shellcheck disable=SC2046
    /usr/bin/time -v -o "$out/time.txt" suricata -c "$SURICATA_YAML" -k none --runmode single \
      -r "$cap" -l "$out" --set outputs.1.eve-log.enabled=no --set stats.interval=1 \
      $(args_for "$c") \
      > "$out/stdout.txt" 2>&1 \
      || { echo "$c on $n connections failed" >&2; tail -5 "$out/stdout.txt" >&2; exit 1; }
    end=$(date +%s.%N)
    python3 - "$out" "$n" "$c" "$start" "$end" <<'PY'
import sys
out, n, cfg, start, end = sys.argv[1:6]
rss = 0
for line in open(f"{out}/time.txt"):
    if "Maximum resident set size" in line:
        rss = int(line.rsplit(":", 1)[1])
# The last dump for totals; the largest of all dumps (every second and at exit) for Suricata's own
# memory counters, which fall back as flows are freed at exit.
stats, peak = {}, {}
for line in open(f"{out}/stats.log"):
    p = [x.strip() for x in line.split("|")]
    if len(p) == 3 and p[1] == "Total" and p[2].isdigit():
        stats[p[0]] = p[2]
        peak[p[0]] = max(peak.get(p[0], 0), int(p[2]))
own = sum(peak.get(k, 0) for k in ("tcp.memuse", "tcp.reassembly_memuse", "flow.memuse"))
flows = stats.get("app_layer.flow.mqtt-ml", stats.get("app_layer.flow.mqtt", "0"))
print("\t".join([n, cfg, f"{rss / 1024:.0f}", f"{float(end) - float(start):.1f}",
                 *(("-", "-") if cfg in ("stock", "none") else
                   (stats.get("mqtt_ml.memuse_peak", "0"), stats.get("mqtt_ml.memcap_refusals", "0"))),
                 flows, f"{own / 2**20:.0f}"]))
PY
  done
  rm -f "$cap"
done
