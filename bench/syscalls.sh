#!/usr/bin/env bash
# Where kernel time goes: system calls (strace -c -f) and page faults (GNU time) of stock Suricata
# and of Suricata + mqtt-ml on the same capture (bench/cost.sh's MQTT capture, COPIES copies,
# default 60), one run each. Prints per configuration: user/sys CPU, minor page faults, EVE
# records, and the count of write, mmap, munmap, brk, madvise and futex calls.
#
#   bench/syscalls.sh [PLUGIN.so ...]    # default: target/release/libmqtt_ml.so
#
# Several plugins can be compared (e.g. a build of an older commit). Needs strace
# (apt-get install strace) besides what bench/cost.sh needs. Optional: EXTRA="--set ..." is added
# to every run (e.g. EXTRA="--set outputs.1.eve-log.buffer-size=64kb").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/env.sh
command -v strace >/dev/null || { echo "strace not found (apt-get install strace)" >&2; exit 1; }
COPIES=${COPIES:-60}
MODEL=${MODEL:-$ROOT/models/mqtt-ml.tflite}
CAP=$MQTT_ML_CACHE/bench/cost-${COPIES}x.pcap
mkdir -p "$MQTT_ML_CACHE/bench"
[ -s "$CAP" ] || python3 bench/build-capture.py "$CAP" \
  pcaps/gen-malaria-a.pcap pcaps/gen-flood-a.pcap pcaps/gen-benign-a.pcap --copies "$COPIES" >&2
PLUGINS=("$@")
[ ${#PLUGINS[@]} -gt 0 ] || PLUGINS=("$ROOT/target/release/libmqtt_ml.so")
WORK=$(mktemp -d /dev/shm/mqtt-ml-syscalls.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

run() {  # label, extra args...
  local label=$1; shift
  local out=$WORK/$label
  mkdir -p "$out/a" "$out/b"
  # shellcheck disable=SC2086
  /usr/bin/time -f '%U %S %R' -o "$out/time.txt" suricata -c "$SURICATA_YAML" -S /dev/null -k none \
    --runmode single -r "$CAP" -l "$out/a" ${EXTRA:-} "$@" > "$out/log.txt" 2>&1
  # shellcheck disable=SC2086
  strace -f -c -o "$out/strace.txt" suricata -c "$SURICATA_YAML" -S /dev/null -k none \
    --runmode single -r "$CAP" -l "$out/b" ${EXTRA:-} "$@" > /dev/null 2>&1
  read -r user sys faults < "$out/time.txt"
  recs=$(grep -c '"event_type":"mqtt' "$out/a/eve.json" || true)
  count() { awk -v s="$1" '$NF==s {print $4}' "$out/strace.txt"; }
  printf '%-28s %6s %6s %9s %9s' "$label" "$user" "$sys" "$faults" "$recs"
  for s in write mmap munmap brk madvise futex; do printf ' %8s' "$(count $s || true)"; done
  echo
}

printf '%-28s %6s %6s %9s %9s %8s %8s %8s %8s %8s %8s\n' configuration user_s sys_s minflt \
  eve_mqtt write mmap munmap brk madvise futex
run stock
i=0
for p in "${PLUGINS[@]}"; do
  i=$((i + 1))
  run "mqtt-ml#$i" --set "plugins.0=$p" --set "app-layer.protocols.mqtt-ml.model=$MODEL"
done
echo "capture: $CAP; plugins: ${PLUGINS[*]}; load: $(cut -d' ' -f1-3 /proc/loadavg)"
