#!/usr/bin/env bash
# Tests the C ABI of libmqtt_ml.so (src/capi.rs, header zeek/plugin/include/mqtt_ml.h) from C:
#   1. builds the cdylib WITHOUT the suricata feature (what Zeek loads) into target/capi;
#   2. runs Suricata with the plugin (scripts/build-plugin.sh) on a capture with log-features,
#      once per model backend, and keeps a few hundred (features, score) pairs per backend;
#   3. compiles tests/capi/test_capi.c against the header with gcc, links the cdylib, and runs it
#      on the shipped model: open/close, width, schema version, thresholds, error paths, and the
#      plugin's scores for the same vectors (1e-6 relative) with both backends;
#   4. compiles the Zeek plugin's Zeek-free C++ layer (zeek/plugin/src/Model.cc) with
#      tests/capi/test_model.cc and runs the same vectors through it.
# Needs scripts/setup.sh first (Suricata, the TensorFlow Lite C library). Prints a closing line
# "capi: N passed, M failed" (C ABI) and "capi-model: N passed, M failed" (C++ layer); exits
# non-zero on failure.
#   MQTT_ML_CAPI_PCAP   capture to take reference vectors from (default pcaps/gen-malaria-a.pcap)
#   MQTT_ML_CAPI_ROWS   vectors kept per backend (default 300)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
cd "$ROOT"

PCAP=${MQTT_ML_CAPI_PCAP:-$ROOT/pcaps/gen-malaria-a.pcap}
ROWS=${MQTT_ML_CAPI_ROWS:-300}
MODEL=$ROOT/models/mqtt-ml.tflite
OUT=$ROOT/target/capi/test
rm -rf "$OUT"
mkdir -p "$OUT"
say() { echo "[capi] $*" >&2; }

say "building the cdylib without the suricata feature (target/capi)"
cargo build --release --quiet --lib --no-default-features --target-dir "$ROOT/target/capi"
LIB=$ROOT/target/capi/release/libmqtt_ml.so
if nm -D --undefined-only "$LIB" | grep -qE ' (SC|Stats|AppLayer)[A-Za-z]'; then
  echo "capi: $LIB needs Suricata symbols; it must be built without the suricata feature" >&2
  echo "capi: 0 passed, 1 failed"
  exit 1
fi

say "building the Suricata plugin and logging reference vectors from $(basename "$PCAP")"
"$ROOT/scripts/build-plugin.sh"
PLUGIN=$ROOT/target/release/libmqtt_ml.so
for backend in tflite native; do
  mkdir -p "$OUT/$backend"
  suricata -c "$SURICATA_YAML" --set "plugins.0=$PLUGIN" \
    --set app-layer.protocols.mqtt-ml.log-features=yes \
    --set "app-layer.protocols.mqtt-ml.model=$MODEL" \
    --set "app-layer.protocols.mqtt-ml.backend=$backend" \
    -k none -r "$PCAP" -l "$OUT/$backend" >"$OUT/$backend/suricata.out" 2>&1 || {
    echo "capi: Suricata failed with backend $backend; see $OUT/$backend/suricata.out" >&2
    tail -5 "$OUT/$backend/suricata.out" >&2
    echo "capi: 0 passed, 1 failed"
    exit 1
  }
done

# One line per message: BACKEND SCORE THRESHOLD TOP0 TOP1 TOP2 F0 ... F27 (see test_capi.c).
# Rows are spread evenly over the capture, plus the highest scores.
python3 - "$OUT" "$ROWS" "$MODEL" >"$OUT/vectors.txt" <<'PY'
import json, sys
out, rows, model = sys.argv[1], int(sys.argv[2]), sys.argv[3]
names = json.load(open(model[: -len(".tflite")] + ".json"))["schema"]["features"]
for backend in ("tflite", "native"):
    recs = []
    with open(f"{out}/{backend}/eve.json") as f:
        for line in f:
            e = json.loads(line)
            m = e.get("mqtt_ml")
            if e.get("event_type") == "mqtt_ml" and m and "score" in m and "features" in m:
                recs.append(m)
    if not recs:
        sys.exit(f"no scored mqtt_ml records with features for backend {backend}")
    step = max(1, len(recs) // rows)
    keep = set(range(0, len(recs), step))
    keep |= set(sorted(range(len(recs)), key=lambda i: -recs[i]["score"])[:10])
    for i in sorted(keep):
        m = recs[i]
        top = [names.index(t["name"]) for t in m["top_features"]]
        if len(top) != 3 or len(m["features"]) != len(names):
            sys.exit(f"unexpected record: {m}")
        vals = [backend, repr(m["score"]), repr(m["threshold"])] + [str(t) for t in top]
        vals += [repr(x) for x in m["features"]]
        print(" ".join(vals))
    print(f"[capi] {backend}: {len(keep)} of {len(recs)} scored messages kept", file=sys.stderr)
PY

say "compiling tests/capi/test_capi.c against zeek/plugin/include/mqtt_ml.h"
gcc -std=c11 -O2 -Wall -Wextra -Werror -I"$ROOT/zeek/plugin/include" \
  "$ROOT/tests/capi/test_capi.c" -o "$OUT/test_capi" \
  -L"$ROOT/target/capi/release" -lmqtt_ml -Wl,-rpath,"$ROOT/target/capi/release" -lm
status=0
SCHEMA_VERSION=$("$ROOT/target/release/mqtt-ml" schema | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
"$OUT/test_capi" "$MODEL" "$OUT/vectors.txt" "$SCHEMA_VERSION" || status=1

say "compiling the Zeek plugin's Zeek-free layer (zeek/plugin/src/Model.cc) with tests/capi/test_model.cc"
g++ -std=c++17 -O2 -Wall -Wextra -Werror -I"$ROOT/zeek/plugin/include" -I"$ROOT/zeek/plugin/src" \
  "$ROOT/zeek/plugin/src/Model.cc" "$ROOT/tests/capi/test_model.cc" -o "$OUT/test_model" \
  -L"$ROOT/target/capi/release" -lmqtt_ml -Wl,-rpath,"$ROOT/target/capi/release"
"$OUT/test_model" "$MODEL" "$OUT/vectors.txt" || status=1
exit $status
