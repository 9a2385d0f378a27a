#!/usr/bin/env bash
# Creates the Python environment for training, the traffic generator and the schema checks:
# $MQTT_ML_CACHE/venv with training/requirements.txt, training/requirements-gen.txt and
# training/requirements-rules.txt (suricata-update), all pinned.
# Idempotent: skipped when the requirements have not changed since the last install.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
VENV=$MQTT_ML_CACHE/venv
REQS=("$ROOT/training/requirements.txt" "$ROOT/training/requirements-gen.txt"
      "$ROOT/training/requirements-rules.txt")
want=$(cat "${REQS[@]}" | sha256sum | cut -d' ' -f1)
stamp=$VENV/.requirements.sha256
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$VENV"
  exit 0
fi
echo "[setup-venv] installing the pinned Python requirements into $VENV (TensorFlow: a few minutes)" >&2
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r "${REQS[0]}" -r "${REQS[1]}" -r "${REQS[2]}"
echo "$want" >"$stamp"
echo "$VENV"
