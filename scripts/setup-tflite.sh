#!/usr/bin/env bash
# Makes the TensorFlow Lite C library (libtensorflowlite_c.so) available to the plugin's "tflite"
# model backend and prints its path on one line. Idempotent: a second run only re-checks.
#   1. $MQTT_ML_TFLITE_LIB, if set and loadable
#   2. a system libtensorflowlite_c.so the dynamic loader finds (Debian 12 has none)
#   3. $MQTT_ML_CACHE/tflite/libtensorflowlite_c.so, fetched once from the npm package
#      tfjs-tflite-node@0.0.2 (TF 2.9.0 C API, x86_64). `npm pack` only downloads the tarball; no
#      package script runs.
set -euo pipefail

MQTT_ML_CACHE=${MQTT_ML_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mqtt-ml}
NPM_PACKAGE=tfjs-tflite-node@0.0.2
LIB_IN_PACKAGE=package/cc_deps/linux_amd64/libtensorflowlite_c.so
DEST_DIR=$MQTT_ML_CACHE/tflite
DEST=$DEST_DIR/libtensorflowlite_c.so

log() { printf '[setup-tflite] %s\n' "$*" >&2; }

# True when the library at $1 (a path, or a bare name for the loader's search) loads and exports the
# interpreter API the plugin binds at run time. python3 (part of the base setup) does the same
# dlopen/dlsym as the plugin; without it, nm checks the exported symbols of a path.
usable() {
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$1" <<'PY' >/dev/null 2>&1
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
for sym in ("TfLiteModelCreate", "TfLiteInterpreterCreate", "TfLiteInterpreterInvoke"):
    getattr(lib, sym)
PY
  else
    [ -f "$1" ] && nm -D --defined-only "$1" 2>/dev/null | grep -qw TfLiteInterpreterCreate
  fi
}

if [ -n "${MQTT_ML_TFLITE_LIB:-}" ]; then
  if usable "$MQTT_ML_TFLITE_LIB"; then echo "$MQTT_ML_TFLITE_LIB"; exit 0; fi
  log "MQTT_ML_TFLITE_LIB=$MQTT_ML_TFLITE_LIB does not load or lacks TfLiteInterpreterCreate; ignoring it"
fi

if usable libtensorflowlite_c.so; then
  sys_path=$(ldconfig -p 2>/dev/null | awk '/libtensorflowlite_c\.so /{print $NF; exit}')
  echo "${sys_path:-libtensorflowlite_c.so}"
  exit 0
fi

if [ -f "$DEST" ] && usable "$DEST"; then echo "$DEST"; exit 0; fi

if ! command -v npm >/dev/null 2>&1; then
  log "installing npm (Debian package) to fetch $NPM_PACKAGE"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log "fetching $NPM_PACKAGE (npm pack; 5.3 MB)"
(cd "$tmp" && npm pack --silent "$NPM_PACKAGE" >/dev/null) \
  || { log "error: 'npm pack $NPM_PACKAGE' failed: check access to the npm registry (npm config get registry)"; exit 1; }
tarball=$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -n1)
[ -n "$tarball" ] || { log "error: npm pack produced no tarball"; exit 1; }
tar -xzf "$tarball" -C "$tmp" "$LIB_IN_PACKAGE" \
  || { log "error: $NPM_PACKAGE has no $LIB_IN_PACKAGE"; exit 1; }
mkdir -p "$DEST_DIR"
# Copy then rename, so a concurrent or interrupted run never leaves a half-written library behind.
cp "$tmp/$LIB_IN_PACKAGE" "$DEST.partial"
mv -f "$DEST.partial" "$DEST"
usable "$DEST" || { log "error: $DEST does not load or lacks TfLiteInterpreterCreate (needs x86_64 glibc)"; exit 1; }
echo "$DEST"
