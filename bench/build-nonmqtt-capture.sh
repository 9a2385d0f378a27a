#!/usr/bin/env bash
# Records the non-MQTT benchmark capture: HTTP, TLS and DNS traffic (bench/nonmqtt-traffic.py)
# on the loopback of a private network namespace, so that the standard ports (80, 443, 53) are
# free and nothing else is captured. Needs root, iproute2 (ip netns), tcpdump and openssl.
#
#   bench/build-nonmqtt-capture.sh OUT.pcap [--http N --tls N --dns N]
set -euo pipefail
OUT=$1; shift
HERE=$(cd "$(dirname "$0")" && pwd)
for t in ip tcpdump openssl python3; do
  command -v "$t" >/dev/null || { echo "$t not found (apt-get install iproute2 tcpdump openssl)" >&2; exit 1; }
done
NS=mqttmlbench$$
TMP=$(mktemp -d)
cleanup() {
  [ -n "${DUMP:-}" ] && kill "$DUMP" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench.test \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" tcpdump -q -i lo -s 0 -U -w "$TMP/out.pcap" 2>"$TMP/tcpdump.log" &
DUMP=$!
sleep 1
ip netns exec "$NS" python3 "$HERE/nonmqtt-traffic.py" "$TMP/cert.pem" "$TMP/key.pem" "$@"
sleep 1
kill -INT "$DUMP"; wait "$DUMP" 2>/dev/null || true; DUMP=
mv "$TMP/out.pcap" "$OUT"
grep -h "packets captured\|dropped by kernel" "$TMP/tcpdump.log" >&2 || true
