#!/usr/bin/env bash
# Installs the Node.js stacks of scripts/gen-corpus.py (the aedes broker and the mqtt.js client,
# pinned in scripts/gen_corpus/node/package-lock.json) into $MQTT_ML_CACHE/node-corpus.
# Idempotent: skipped when the lock file has not changed since the last install. Prints the dir.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
SRC=$ROOT/scripts/gen_corpus/node
DEST=$MQTT_ML_CACHE/node-corpus
want=$(cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -d' ' -f1)
stamp=$DEST/.lock.sha256
if [ -d "$DEST/node_modules/aedes" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$DEST"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "[setup-corpus] error: npm not found (apt-get install -y npm)" >&2; exit 1; }
echo "[setup-corpus] installing aedes and mqtt.js into $DEST" >&2
mkdir -p "$DEST"
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
(cd "$DEST" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
echo "$want" >"$stamp"
echo "$DEST"
