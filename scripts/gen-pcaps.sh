#!/usr/bin/env bash
# Regenerates the small MQTT captures in pcaps/ (see pcaps/README.md for what each one holds).
#
# Every capture is real traffic: a private mosquitto broker and the mosquitto_pub/mosquitto_sub
# clients talk over 127.0.0.1 while tcpdump records the loopback interface. Nothing leaves the host.
#
# Usage: scripts/gen-pcaps.sh [OUT_DIR]        (default: pcaps/ in the repository)
# Environment:
#   MQTT_PORT      port of the main captures (default 1883; must be free)
#   MQTT_ALT_PORT  port of mqtt-otherport.pcap (default 18830; must be free)
#
# Needs: mosquitto, mosquitto_pub, mosquitto_sub, mosquitto_passwd, tcpdump, ss, python3, and the
# right to capture on `lo` (root or CAP_NET_RAW). Every process is started and stopped by its PID,
# every wait is bounded, and the private working directory is removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT_DIR=${1:-$ROOT/pcaps}
PORT=${MQTT_PORT:-1883}
ALT_PORT=${MQTT_ALT_PORT:-18830}
HOST=127.0.0.1
CLIENT_TIMEOUT=30   # seconds any single client may run

WORK=$(mktemp -d -t mqtt-ml-pcaps.XXXXXX)
BROKER_PID=""
CAPTURE_PID=""
BG_PIDS=()
CUR_PORT=""
CUR_DIR=""

log() { printf '[gen-pcaps] %s\n' "$*" >&2; }
# On failure show the end of the current broker's and subscriber's logs: they say what went wrong.
die() {
  log "error: $*"
  local f
  for f in "$CUR_DIR/broker.log" "$CUR_DIR/sub.out"; do
    [ -n "$CUR_DIR" ] && [ -s "$f" ] && { log "--- tail of $f"; tail -n 15 "$f" >&2; }
  done
  exit 1
}

# Stop one process we started (TERM, then reap it). Unknown or finished PIDs are fine.
stop_pid() {
  local pid=${1:-}
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local p
  for p in "${BG_PIDS[@]}"; do stop_pid "$p"; done
  stop_pid "$CAPTURE_PID"
  stop_pid "$BROKER_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

require_tools() {
  local t
  for t in mosquitto mosquitto_pub mosquitto_sub mosquitto_passwd tcpdump ss python3 timeout; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found (apt-get install -y mosquitto mosquitto-clients tcpdump iproute2 python3)"
  done
}

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# Poll a condition every 0.1 s, at most $2 times; fail with a message naming what we waited for.
wait_until() {
  local what=$1 tries=$2 i
  shift 2
  for ((i = 0; i < tries; i++)); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  die "timed out waiting for: $what"
}

log_has() { grep -qF -- "$1" "$CUR_DIR/broker.log" 2>/dev/null; }

# A broker of our own, bound to 127.0.0.1 only, with a config in the private working directory.
# $1 = name, $2 = port, $3 = "auth" to require the password file, anything else for anonymous.
start_broker() {
  local name=$1 port=$2 mode=$3
  CUR_DIR="$WORK/$name"
  CUR_PORT=$port
  mkdir -p "$CUR_DIR"
  port_in_use "$port" && die "port $port is already in use; set MQTT_PORT / MQTT_ALT_PORT to a free port"
  {
    echo "listener $port $HOST"
    echo "persistence false"
    echo "log_dest stderr"
    echo "log_type all"
    echo "connection_messages true"
    # Stay the invoking user so the broker can read the private (mode 0700) directory.
    [ "$(id -u)" -eq 0 ] && echo "user root"
    echo "acl_file $CUR_DIR/acl"
    if [ "$mode" = auth ]; then
      echo "allow_anonymous false"
      echo "password_file $CUR_DIR/passwd"
    else
      echo "allow_anonymous true"
    fi
  } >"$CUR_DIR/mosquitto.conf"
  # Every client, named or anonymous, may do anything except use private/ (a publish there gets
  # a "not authorized" ack in 5.0).
  printf 'pattern readwrite #\npattern deny private/#\n' >"$CUR_DIR/acl"
  if [ "$mode" = auth ]; then
    : >"$CUR_DIR/passwd"
    mosquitto_passwd -b "$CUR_DIR/passwd" alice alice-secret
  fi
  mosquitto -c "$CUR_DIR/mosquitto.conf" >"$CUR_DIR/broker.log" 2>&1 &
  BROKER_PID=$!
  wait_until "mosquitto listening on $HOST:$port" 100 port_in_use "$port"
}

stop_broker() { stop_pid "$BROKER_PID"; BROKER_PID=""; }

# tcpdump on loopback, only this broker's port; -U/--immediate-mode so nothing is lost at stop.
start_capture() {
  local file=$1
  local opts=(-i lo -n -s 0 -U --immediate-mode -w "$file")
  [ "$(id -u)" -eq 0 ] && opts+=(-Z root)
  tcpdump "${opts[@]}" "host $HOST and tcp port $CUR_PORT" 2>"$CUR_DIR/tcpdump.log" &
  CAPTURE_PID=$!
  wait_until "tcpdump to start" 100 grep -qs "listening on" "$CUR_DIR/tcpdump.log"
}

stop_capture() {
  sleep 0.5   # let the last FIN/ACKs reach the capture
  stop_pid "$CAPTURE_PID"
  CAPTURE_PID=""
}

pub() { timeout "$CLIENT_TIMEOUT" mosquitto_pub -h "$HOST" -p "$CUR_PORT" "$@"; }
sub() { timeout "$CLIENT_TIMEOUT" mosquitto_sub -h "$HOST" -p "$CUR_PORT" "$@"; }

# Start a subscriber in the background (output to $1); its PID goes to SUB_PID and BG_PIDS.
sub_bg() {
  local out=$1
  shift
  sub "$@" >"$out" 2>&1 &
  SUB_PID=$!
  BG_PIDS+=("$SUB_PID")
}

# Wait for a background client to finish; it must exit 0 (it got every message it expected).
wait_client() {
  local pid=$1 what=$2 rc=0 p kept=()
  wait "$pid" || rc=$?
  for p in "${BG_PIDS[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  BG_PIDS=("${kept[@]}")   # reaped: never signal this PID again
  [ "$rc" -eq 0 ] || die "$what exited with status $rc"
}

# mosquitto_sub -W exits with 27 when its timer fires: that is how the unsubscribing clients end.
run_timed_sub() {
  local rc=0
  sub "$@" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 27 ] || die "mosquitto_sub $* exited with status $rc"
}

# A fixed 300-byte payload holding every byte value: longer than 127 (two-byte remaining length)
# and than the default 256-byte payload log limit.
make_blob() { python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) + bytes(range(44)))' >"$WORK/blob.bin"; }

# MQTT 3.1 / 3.1.1: every control packet type a broker and these clients exchange.
scenario_v3() {
  local v=$1 tag=$2
  sub_bg "$CUR_DIR/sub.out" -V "$v" -i "ml-sub-$tag" -u alice -P alice-secret \
    --will-topic "clients/ml-sub-$tag/status" --will-payload offline --will-qos 1 --will-retain \
    -k 5 -q 2 -t 'sensors/#' -t 'alerts/+' -C 4 -v
  local s=$SUB_PID
  wait_until "SUBSCRIBE from ml-sub-$tag" 100 log_has "Received SUBSCRIBE from ml-sub-$tag"
  wait_until "PINGREQ from ml-sub-$tag" 150 log_has "Received PINGREQ from ml-sub-$tag"
  pub -V "$v" -i "ml-pub0-$tag" -q 0 -t sensors/temp -m '21.5'
  pub -V "$v" -i "ml-pub1-$tag" -q 1 -t sensors/humidity -m '40%' -u bob -P bob-secret
  pub -V "$v" -i "ml-pub2-$tag" -q 2 -t alerts/door -m 'front door open'
  pub -V "$v" -i "ml-pubb-$tag" -q 1 -t sensors/blob -f "$WORK/blob.bin"
  wait_client "$s" "subscriber ml-sub-$tag"
  pub -V "$v" -i "ml-pubr-$tag" -q 1 -r -t status/ml -m online
  sub -V "$v" -i "ml-subr-$tag" -q 1 -t status/ml -C 1 >/dev/null
  run_timed_sub -V "$v" -i "ml-unsub-$tag" -q 1 -t 'sensors/#' -t 'alerts/+' -U 'sensors/#' -U 'alerts/+' -W 1
}

# MQTT 5.0: the same exchange with properties on CONNECT, will, SUBSCRIBE, PUBLISH and DISCONNECT,
# a topic alias, and acks with non-zero reason codes.
scenario_v5() {
  local v=mqttv5 tag=5
  sub_bg "$CUR_DIR/sub.out" -V "$v" -i "ml-sub-$tag" -u alice -P alice-secret \
    --will-topic "clients/ml-sub-$tag/status" --will-payload offline --will-qos 1 --will-retain \
    -D will will-delay-interval 5 -D will message-expiry-interval 100 -D will content-type text/plain \
    -D will payload-format-indicator 1 -D will response-topic clients/replies \
    -D will user-property origin ml-sub \
    -D connect session-expiry-interval 300 -D connect receive-maximum 20 \
    -D connect maximum-packet-size 65535 -D connect topic-alias-maximum 5 \
    -D connect request-problem-information 1 -D connect request-response-information 1 \
    -D connect user-property client ml-sub \
    -D subscribe subscription-identifier 7 -D subscribe user-property purpose capture \
    -D disconnect reason-string done -D disconnect user-property bye now \
    -k 5 -q 2 -t 'sensors/#' -t 'alerts/+' -C 7 -v
  local s=$SUB_PID
  wait_until "SUBSCRIBE from ml-sub-$tag" 100 log_has "Received SUBSCRIBE from ml-sub-$tag"
  wait_until "PINGREQ from ml-sub-$tag" 150 log_has "Received PINGREQ from ml-sub-$tag"
  pub -V "$v" -i "ml-pub0-$tag" -q 0 -t sensors/temp -m '21.5' -D publish user-property unit C
  pub -V "$v" -i "ml-pub1-$tag" -q 1 -t sensors/humidity -m '40%' -u bob -P bob-secret \
    -D publish message-expiry-interval 60 -D publish content-type text/plain \
    -D publish payload-format-indicator 1 -D publish response-topic replies/ml \
    -D publish correlation-data req-1 -D publish user-property unit percent
  pub -V "$v" -i "ml-pub2-$tag" -q 2 -t alerts/door -m 'front door open' -D publish message-expiry-interval 30
  pub -V "$v" -i "ml-pubb-$tag" -q 1 -t sensors/blob -f "$WORK/blob.bin"
  # Three messages on one connection with topic alias 1: the 2nd and 3rd carry an empty topic.
  printf 'alias-1\nalias-2\nalias-3\n' | pub -V "$v" -i "ml-puba-$tag" -q 1 -t sensors/alias -l -D publish topic-alias 1
  wait_client "$s" "subscriber ml-sub-$tag"
  pub -V "$v" -i "ml-pubr-$tag" -q 1 -r -t status/ml -m online -x 120
  sub -V "$v" -i "ml-subr-$tag" -q 1 -t status/ml -C 1 >/dev/null
  # No subscriber: PUBACK with reason code 16 (no matching subscribers); the QoS 2 one too,
  # although mosquitto answers its PUBREC without a reason code.
  pub -V "$v" -i "ml-pubn-$tag" -q 1 -t nobody/listens -m x
  pub -V "$v" -i "ml-pubm-$tag" -q 2 -t nobody/listens -m y
  # Denied by the broker's ACL: reason code 135 (not authorized); the client reports the failure.
  pub -V "$v" -i "ml-pubd-$tag" -q 1 -t private/secret -m z >/dev/null 2>&1 || true
  run_timed_sub -V "$v" -i "ml-unsub-$tag" -q 1 -t 'sensors/#' -t 'alerts/+' -U 'sensors/#' -U 'alerts/+' -W 1
}

# Password-protected broker: refused logins (CONNACK 5 / 5.0 reason 135), then a good one.
scenario_auth_fail() {
  local i
  for i in 1 2 3; do
    pub -V mqttv311 -i "ml-guess-$i" -u alice -P "wrong-$i" -q 1 -t sensors/temp -m x >/dev/null 2>&1 || true
  done
  pub -V mqttv311 -i ml-guess-4 -u mallory -P mallory -q 1 -t sensors/temp -m x >/dev/null 2>&1 || true
  pub -V mqttv311 -i ml-guess-5 -q 1 -t sensors/temp -m x >/dev/null 2>&1 || true
  pub -V mqttv5 -i ml-guess-6 -u alice -P wrong-6 -q 1 -t sensors/temp -m x >/dev/null 2>&1 || true
  pub -V mqttv311 -i ml-login -u alice -P alice-secret -q 1 -t sensors/temp -m '21.5'
}

# Same protocol, unusual port: detection has to come from the payload, not the port.
scenario_otherport() {
  sub_bg "$CUR_DIR/sub.out" -V mqttv311 -i ml-sub-alt -q 1 -t 'sensors/#' -C 3 -v
  local s=$SUB_PID
  wait_until "SUBSCRIBE from ml-sub-alt" 100 log_has "Received SUBSCRIBE from ml-sub-alt"
  pub -V mqttv311 -i ml-pub-alt0 -q 0 -t sensors/temp -m '21.5'
  pub -V mqttv311 -i ml-pub-alt1 -q 1 -t sensors/humidity -m '40%'
  pub -V mqttv5 -i ml-pub-alt5 -q 2 -t sensors/door -m closed
  wait_client "$s" "subscriber ml-sub-alt"
}

# One capture: fresh broker, capture, scenario, stop both, keep the pcap.
capture() {
  local name=$1 port=$2 mode=$3
  shift 3
  log "capturing $name.pcap (port $port)"
  start_broker "$name" "$port" "$mode"
  start_capture "$WORK/$name.pcap"
  "$@"
  stop_capture
  stop_broker
  BG_PIDS=()
}

main() {
  require_tools
  make_blob
  capture mqtt311-basic "$PORT" anon scenario_v3 mqttv311 311
  capture mqtt31-basic "$PORT" anon scenario_v3 mqttv31 31
  capture mqtt5-basic "$PORT" anon scenario_v5
  capture mqtt-auth-fail "$PORT" auth scenario_auth_fail
  capture mqtt-otherport "$ALT_PORT" anon scenario_otherport
  mkdir -p "$OUT_DIR"
  local f
  for f in mqtt311-basic mqtt31-basic mqtt5-basic mqtt-auth-fail mqtt-otherport; do
    install -m 0644 "$WORK/$f.pcap" "$OUT_DIR/$f.pcap"
  done
  log "wrote $(ls "$OUT_DIR"/*.pcap | wc -l) captures to $OUT_DIR"
}

main "$@"
