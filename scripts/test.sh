#!/usr/bin/env bash
# Sets everything up (idempotent, cached) and runs every test:
#   formatting and lints, unit tests of the pure layers (no Suricata needed), and the end-to-end
#   suite that runs the real Suricata 8.0.7 with the plugin on captures and compares its output
#   with tshark, message by message.
# Tests that need ../shared/datasets run when it is present and report "skipped" otherwise.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/setup.sh"
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
cd "$ROOT"

step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all --check
step "lints (pure layers without Suricata, then the default build: the plugin)"
cargo clippy --quiet --all-targets --no-default-features -- -D warnings
cargo clippy --quiet --all-targets --features suricata,e2e -- -D warnings
step "unit tests"
cargo test --quiet
step "end-to-end tests (real Suricata ${SURICATA_VERSION}, tshark, captures)"
# The plugin the suite loads is the default build's, as a user gets it from `cargo build --release`.
cargo build --release --quiet
cargo test --release --quiet --features suricata,e2e --test e2e
step "C ABI (tests/capi: same scores as the plugin) and Zeek package syntax"
tests/capi/run.sh
tests/capi/zeek_syntax.sh
step "EVE schema, Elastic asset and tshark comparison self-tests"
"$MQTT_ML_CACHE/venv/bin/python" -m unittest discover -s tests/schema -p 'test_*.py'
"$MQTT_ML_CACHE/venv/bin/python" -m unittest discover -s tests/reference -p 'test_*.py'
step "corpus generator: environments, address plans, label matching, fuzzer (no generation)"
"$MQTT_ML_CACHE/venv/bin/python" -m unittest discover -s tests/corpus -p 'test_*.py'
step "training pipeline, quick run (generated traffic, 3 epochs) and plugin/Python score agreement"
training/run.sh --quick
