#!/usr/bin/env bash
# Builds libmqtt_ml.so (and the mqtt-ml command) against the Suricata that scripts/setup.sh found
# or built: the default `cargo build --release`, with the headers env.sh points at. Cargo's own
# caching makes a second run take about a second.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
if [ -z "${SURICATA_INCLUDE_DIR:-}" ] && ! command -v libsuricata-config >/dev/null 2>&1; then
  echo "[build-plugin] error: Suricata headers not found; run scripts/setup.sh first" >&2
  exit 1
fi
cd "$ROOT"
cargo build --release --quiet
echo "[build-plugin] $ROOT/target/release/libmqtt_ml.so" >&2
