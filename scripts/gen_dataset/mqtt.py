"""Byte-level MQTT packet building and a minimal raw-socket client for the attack scenarios.

Only the standard library is used: the attack clients craft their packets themselves, so they can
send things a real client library never would (keep-alive 65535 everywhere, broken packets, ...).
"""

import socket
import struct
import time

# Control packet types.
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = range(8, 16)

V311, V5 = 4, 5


def varint(n):
    """MQTT variable byte integer (minimal encoding)."""
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def u16(n):
    return struct.pack("!H", n)


def mstr(s):
    """Length-prefixed string; bytes are sent as they are (that is how invalid UTF-8 gets in)."""
    if isinstance(s, str):
        s = s.encode("utf-8")
    return u16(len(s)) + s


def packet(ptype, flags, body):
    return bytes([(ptype << 4) | (flags & 0x0F)]) + varint(len(body)) + body


def connect(client_id, keepalive=60, version=V311, username=None, password=None, clean=True,
            will=None, props=b""):
    """CONNECT. will = (topic, message, qos, retain)."""
    flags = 0x02 if clean else 0
    payload = mstr(client_id)
    wprops = b""
    if will:
        wtopic, wmsg, wqos, wretain = will
        flags |= 0x04 | (wqos << 3) | (0x20 if wretain else 0)
        if version == V5:
            payload += varint(len(wprops)) + wprops
        payload += mstr(wtopic) + mstr(wmsg)
    if username is not None:
        flags |= 0x80
        payload += mstr(username)
    if password is not None:
        flags |= 0x40
        payload += mstr(password)
    vh = mstr("MQTT") + bytes([version, flags]) + u16(keepalive)
    if version == V5:
        vh += varint(len(props)) + props
    return packet(CONNECT, 0, vh + payload)


def publish(topic, payload, qos=0, pid=None, retain=False, dup=False, version=V311, props=b""):
    flags = (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = mstr(topic)
    if qos:
        body += u16(pid)
    if version == V5:
        body += varint(len(props)) + props
    return packet(PUBLISH, flags, body + payload)


def ack(ptype, pid):
    """PUBACK / PUBREC / PUBREL / PUBCOMP (PUBREL carries flags 0b0010)."""
    return packet(ptype, 2 if ptype == PUBREL else 0, u16(pid))


def subscribe(pid, filters, version=V311):
    body = u16(pid) + (b"\x00" if version == V5 else b"")
    for f, q in filters:
        body += mstr(f) + bytes([q])
    return packet(SUBSCRIBE, 2, body)


def pingreq():
    return b"\xc0\x00"


def disconnect():
    return b"\xe0\x00"


class RawClient:
    """One TCP connection to the broker, reading whole MQTT packets back.

    `conns` (a ConnLog) records the local port when the connection opens and closes, which is
    how every captured TCP stream gets its label."""

    def __init__(self, host, port, conns, label, timeout=3.0):
        self.conns = conns
        self.label = label
        self.buf = b""
        self.sock = None
        self.rec = conns.opening(label)
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError:
            conns.failed(self.rec)
            raise
        local = self.sock.getsockname()
        conns.opened(self.rec, local[1], local[0])

    def send(self, data):
        self.sock.sendall(data)

    def read_packet(self, timeout=3.0):
        """Next whole packet as (type, flags, body), or None on EOF / timeout."""
        deadline = time.monotonic() + timeout
        while True:
            pkt = self._parse()
            if pkt is not None:
                return pkt
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, OSError):
                return None
            if not chunk:
                return None
            self.buf += chunk

    def _parse(self):
        b = self.buf
        if len(b) < 2:
            return None
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(b):
                return None
            n += (b[i] & 0x7F) * mult
            mult *= 128
            i += 1
            if not b[i - 1] & 0x80 or i > 4:
                break
        if len(b) < i + n:
            return None
        self.buf = b[i + n:]
        return b[0] >> 4, b[0] & 0x0F, b[i:i + n]

    def wait_for(self, ptype, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pkt = self.read_packet(max(0.01, deadline - time.monotonic()))
            if pkt is None:
                return None
            if pkt[0] == ptype:
                return pkt
        return None

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
            self.conns.closed(self.rec)
