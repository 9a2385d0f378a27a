#!/usr/bin/env bash
# Sets everything up (idempotent, cached) and runs the main job: `mqtt-ml detect` (Suricata 8 with
# the mqtt-ml plugin, its model and every rule in suricata-rules/) on a bundled capture, printing a
# summary of messages, anomalies and alerts per attack class; eve.json goes to the output dir.
#   scripts/demo.sh [capture.pcap] [output-dir]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PCAP=${1:-$ROOT/pcaps/ns-home/bruteforce-a.pcap}
OUT=${2:-$ROOT/out/demo}
"$ROOT/scripts/setup.sh"
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
exec "$ROOT/target/release/mqtt-ml" detect "$PCAP" -o "$OUT"
