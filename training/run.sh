#!/usr/bin/env bash
# Trains, exports and reports mqtt-ml's autoencoder in one go (see training/pipeline.py).
#   training/run.sh [--quick] [--seed N] [--out DIR] [--datasets mqttset,generated] [...]
# Uses the venv $MQTT_ML_CACHE/venv (created from training/requirements.txt when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
VENV=$MQTT_ML_CACHE/venv
if ! "$VENV/bin/python" -c "import tensorflow, sklearn, matplotlib" >/dev/null 2>&1; then
  echo "[train] installing training/requirements.txt into $VENV" >&2
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r training/requirements.txt
fi
export PYTHONHASHSEED=0
exec "$VENV/bin/python" -m training.pipeline "$@"
