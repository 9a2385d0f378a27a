#!/usr/bin/env bash
# Sets everything up (idempotent, cached) and runs the main job: Suricata 8 with the mqtt-ml plugin
# and its event rules on a bundled capture, then prints what it logged.
#   scripts/demo.sh [capture.pcap] [output-dir]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PCAP=${1:-$ROOT/pcaps/mqtt311-basic.pcap}
OUT=${2:-$ROOT/out/demo}
"$ROOT/scripts/setup.sh"
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
mkdir -p "$OUT"
rm -f "$OUT/eve.json" "$OUT/fast.log"
"$ROOT/target/release/mqtt-ml" --plugin "$ROOT/target/release/libmqtt_ml.so" \
  -c "$SURICATA_YAML" \
  -S "$ROOT/suricata-rules/mqtt-ml-events.rules" \
  -r "$PCAP" -l "$OUT" -k none >"$OUT/suricata.out" 2>&1 \
  || { cat "$OUT/suricata.out" >&2; exit 1; }
python3 "$ROOT/scripts/eve-summary.py" "$OUT/eve.json"
echo "eve.json: $OUT/eve.json"
