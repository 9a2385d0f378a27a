#!/usr/bin/env bash
# Peak memory of Suricata on two hostile captures, with and without mqtt-ml:
#   slowite  10,000 concurrent connections, CONNECT keep-alive 65535, a few bytes each later
#   bigpub   200 PUBLISH messages of 1,000,000 payload bytes on one connection
# (bench/build-resource-captures.py; built once into $MQTT_ML_CACHE/bench/). Configurations:
#   a    stock Suricata (built-in MQTT parser, EVE mqtt)
#   b    built-in MQTT parser disabled, no plugin
#   c    Suricata + mqtt-ml (defaults: max-msg-length 1mb)
#   c64  the same with app-layer.protocols.mqtt-ml.max-msg-length=64kb
# Each configuration runs ROUNDS times (default 2), interleaved; the table shows the median peak RSS
# (/usr/bin/time -v), the MQTT records logged and the mqtt_ml events raised.
#   bench/resources.sh            ROUNDS=3 bench/resources.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/env.sh
ROUNDS=${ROUNDS:-2}
PLUGIN=${PLUGIN:-$ROOT/target/release/libmqtt_ml.so}
MODEL=${MODEL:-$ROOT/models/mqtt-ml.tflite}
CACHE=$MQTT_ML_CACHE/bench
WORK=${BENCH_WORK:-/dev/shm/mqtt-ml-resources.$$}
mkdir -p "$CACHE" "$WORK/plugin"
trap 'rm -rf "$WORK"/run-*' EXIT
cp "$PLUGIN" "$WORK/plugin/libmqtt_ml.so"
cp "$MODEL" "$WORK/plugin/mqtt-ml.tflite"
cp "${MODEL%.tflite}.json" "$WORK/plugin/mqtt-ml.json"

SLOW=$CACHE/slowite-10k.pcap
BIG=$CACHE/bigpub-200x1m.pcap
[ -s "$SLOW" ] || python3 bench/build-resource-captures.py slowite "$SLOW" --conns 10000 >&2
[ -s "$BIG" ] || python3 bench/build-resource-captures.py bigpub "$BIG" --msgs 200 --size 1000000 >&2

PLUG=(--set "plugins.0=$WORK/plugin/libmqtt_ml.so"
      --set "app-layer.protocols.mqtt-ml.model=$WORK/plugin/mqtt-ml.tflite")
args_for() {
  case $1 in
    a)   echo ;;
    b)   echo --set app-layer.protocols.mqtt.enabled=no ;;
    c)   echo "${PLUG[@]}" ;;
    c64) echo "${PLUG[@]}" --set app-layer.protocols.mqtt-ml.max-msg-length=64kb ;;
  esac
}
RES=$WORK/resources.tsv
: > "$RES"
for r in $(seq 1 "$ROUNDS"); do
  for cap in "$SLOW" "$BIG"; do
    for c in a b c c64; do
      out=$WORK/run-$c-$r; rm -rf "$out"; mkdir -p "$out"
      load=$(cut -d' ' -f1 /proc/loadavg)
      # shellcheck disable=SC2046
      /usr/bin/time -v -o "$out/time.txt" suricata -c "$SURICATA_YAML" -k none --runmode single \
        -r "$cap" -l "$out" $(args_for "$c") > "$out/stdout.txt" 2>&1 \
        || { echo "$c on $cap failed" >&2; tail -5 "$out/stdout.txt" >&2; exit 1; }
      python3 - "$out" "$c" "$(basename "$cap" .pcap)" "$r" "$load" >> "$RES" <<'PY'
import collections, json, sys
out, cfg, cap, rnd, load = sys.argv[1:6]
rss = 0
for line in open(f"{out}/time.txt"):
    if "Maximum resident set size" in line:
        rss = int(line.rsplit(":", 1)[1])
n = collections.Counter()
ev = collections.Counter()
for line in open(f"{out}/eve.json"):
    if '"event_type":"mqtt' not in line:
        continue
    e = json.loads(line)
    n[e["event_type"]] += 1
    for x in e.get("mqtt_ml", {}).get("events", []):
        ev[x] += 1
stats = {}
for line in open(f"{out}/stats.log"):
    p = [x.strip() for x in line.split("|")]
    if len(p) == 3 and p[1] == "Total":
        stats[p[0]] = p[2]
keys = ("tcp.reassembly_memuse", "tcp.memuse", "tcp.segment_memcap_drop", "tcp.reassembly_gap",
        "flow.memuse", "app_layer.flow.mqtt-ml", "app_layer.flow.mqtt")
print("\t".join([cap, cfg, rnd, load, str(rss), json.dumps(dict(n)), json.dumps(dict(ev)),
                 json.dumps({k: stats[k] for k in keys if k in stats})]))
PY
      tail -n1 "$RES" >&2
      rm -rf "$out"
    done
  done
done
python3 - "$RES" <<'PY'
import collections, json, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    cap, cfg, rnd, load, rss, n, ev, st = line.rstrip("\n").split("\t")
    rows[(cap, cfg)].append((int(rss), load, n, ev, st))
names = {"a": "stock (built-in MQTT)", "b": "no MQTT parser", "c": "mqtt-ml (max-msg-length 1mb)",
         "c64": "mqtt-ml, max-msg-length 64kb"}
print(f"{'capture':<18}{'config':<32}{'peak RSS MiB':>13}{'x a':>7}  records / events / stats (last round)")
for (cap, cfg), rs in rows.items():
    med = statistics.median(r[0] for r in rs)
    base = statistics.median(r[0] for r in rows[(cap, "a")])
    print(f"{cap:<18}{names[cfg]:<32}{med / 1024:>13.0f}{med / base:>7.2f}  {rs[-1][2]} {rs[-1][3]} {rs[-1][4]}")
PY
