#!/usr/bin/env bash
# One-time (idempotent, cached) setup for mqtt-ml on Debian 12:
#   - Debian packages: Suricata build deps, tshark (reference dissector), mosquitto (traffic generator),
#     nftables (the corpus generator's NAT routers)
#   - Suricata 8.0.7 built from Debian's upstream tarball into a cached prefix, unless a Suricata 8
#     with plugin support is already on PATH
#   - the TensorFlow Lite C library (scripts/setup-tflite.sh) and the Python environment for
#     training and the traffic generator (scripts/setup-venv.sh), the corpus generator's Node.js
#     broker and client (scripts/setup-corpus.sh)
#   - the plugin itself (cargo build --release)
# A second run takes seconds: every step checks for its own result first.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"

log() { printf '[setup] %s\n' "$*" >&2; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

APT_PACKAGES=(
  build-essential pkg-config curl ca-certificates xz-utils
  libpcap-dev libyaml-dev libjansson-dev libpcre2-dev libcap-ng-dev libmagic-dev liblz4-dev zlib1g-dev
  tshark mosquitto mosquitto-clients tcpdump python3 python3-venv
  nftables  # NAT routers of scripts/gen-corpus.py
)

apt_install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

fetch_suricata_source() {
  local tarball="$MQTT_ML_CACHE/src/suricata_${SURICATA_VERSION}.orig.tar.gz"
  if [ -s "$tarball" ]; then echo "$tarball"; return; fi
  mkdir -p "$MQTT_ML_CACHE/src" "$MQTT_ML_CACHE/apt/lists/partial"
  # The mirror comes from this system's own apt sources; only the suite differs (sid holds 8.0.7).
  local mirror
  mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$mirror" ] || mirror=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1 || true)
  [ -n "$mirror" ] || { log "error: no Debian mirror found in /etc/apt sources; set one up and re-run"; exit 1; }
  local list="$MQTT_ML_CACHE/apt/sid-src.list"
  echo "deb-src [trusted=yes] $mirror sid main" >"$list"
  local O=(-o "Dir::Etc::SourceList=$list" -o Dir::Etc::SourceParts=/dev/null
           -o "Dir::State::Lists=$MQTT_ML_CACHE/apt/lists" -o Debug::NoLocking=1)
  log "fetching suricata ${SURICATA_VERSION} source (Debian sid source package)"
  apt-get "${O[@]}" update -qq >/dev/null 2>&1 || apt-get "${O[@]}" update
  (cd "$MQTT_ML_CACHE/src" && apt-get "${O[@]}" source --download-only "suricata=1:${SURICATA_VERSION}-2" >/dev/null 2>&1 || true)
  [ -s "$tarball" ] || { log "error: could not download suricata_${SURICATA_VERSION}.orig.tar.gz from $mirror (sid)"; exit 1; }
  echo "$tarball"
}

build_suricata() {
  local prefix="$SURICATA_PREFIX"
  if [ -x "$prefix/bin/suricata" ] && [ -f "$prefix/include/suricata/suricata-common.h" ] \
     && [ -f "$SURICATA_YAML" ]; then
    return
  fi
  local tarball; tarball=$(fetch_suricata_source)
  local build="$MQTT_ML_CACHE/build"
  rm -rf "$build"; mkdir -p "$build"
  tar -xzf "$tarball" -C "$build"
  local src; src=$(find "$build" -maxdepth 1 -type d -name 'suricata-*' | head -n1)
  log "building suricata ${SURICATA_VERSION} into $prefix (about 6 minutes on 2 cores)"
  (cd "$src" && ./configure --prefix="$prefix" --sysconfdir="$prefix/etc" --localstatedir="$prefix/var" \
      --disable-suricata-update --disable-af-xdp --disable-gccmarch-native >"$build/configure.log" 2>&1 \
    || { tail -n 30 "$build/configure.log" >&2; exit 1; })
  (cd "$src" && make -j"$(nproc)" >"$build/make.log" 2>&1 || { tail -n 40 "$build/make.log" >&2; exit 1; })
  (cd "$src" && make install install-conf install-headers >"$build/install.log" 2>&1 \
    || { tail -n 40 "$build/install.log" >&2; exit 1; })
  rm -rf "$build"
  # shellcheck source=scripts/env.sh
  . "$ROOT/scripts/env.sh"
}

main() {
  apt_install_missing "${APT_PACKAGES[@]}"
  # npm fetches the TensorFlow Lite C library (setup-tflite.sh); use the machine's own if present.
  command -v npm >/dev/null 2>&1 || apt_install_missing npm
  build_suricata
  log "suricata: $("$SURICATA_PREFIX/bin/suricata" -V 2>&1 | head -n1)"
  log "tflite: $("$ROOT/scripts/setup-tflite.sh")"
  log "python: $("$ROOT/scripts/setup-venv.sh")"
  log "corpus stacks: $("$ROOT/scripts/setup-corpus.sh")"
  if [ "${MQTT_ML_SKIP_PLUGIN:-0}" != 1 ]; then
    "$ROOT/scripts/build-plugin.sh"
  fi
}

main "$@"
