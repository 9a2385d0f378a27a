#!/usr/bin/env python3
"""Captures for the resource-bound checks (docs/robustness.md), written directly as pcap records
with hand-built IPv4/TCP headers (handshakes, sequence and acknowledgement numbers, checksums).

  slowite  N connections (default 10,000) from one client, each: handshake, CONNECT with
           keep-alive 65535, CONNACK; 60 s later a few bytes on each (half a PINGREQ + PINGRESP
           exchange, half the first 2 bytes of a PUBLISH that never completes); never closed.
  bigpub   one connection: CONNECT, CONNACK, then M PUBLISH messages (default 200) of SIZE bytes
           of payload (default 1,000,000; under the 1 MiB max-msg-length), in 1460-byte
           segments with the broker's ACKs, then DISCONNECT and FIN.

  aliases  N connections (default 1,000) from one client, each: handshake, MQTT 5 CONNECT, a
           CONNACK granting Topic Alias Maximum 65535, then M PUBLISHes (default 1,024) each
           setting a new alias to a distinct 48-byte topic, in full segments the broker ACKs;
           never closed: the most alias state a client can make the plugin hold.

  worst    N connections (default 10,000) from one client, each holding the most per-connection
           state a client can make the plugin hold, never closed: handshake, MQTT 5 CONNECT with
           keep-alive 65535, a CONNACK granting Topic Alias Maximum 65535; 1,024 PUBLISHes each
           setting a new alias to a distinct 64-byte topic (both per-direction alias bounds
           reached: 1,024 aliases, 64 KiB of topic text), the first 64 at QoS 2 and never
           acknowledged (the QoS 2 start times kept), in full segments the broker ACKs; then a
           PUBLISH announcing 1,000 bytes of which 300 come, one byte per segment, unacknowledged
           (the packet log full at its default 256 segments, the message incomplete). Also
           writes OUT.idx: the pcap's byte length after every 1,000 connections, so that a
           prefix (`head -c`) is the same capture with fewer connections.

Usage: bench/build-resource-captures.py slowite OUT.pcap [--conns N]
       bench/build-resource-captures.py bigpub OUT.pcap [--msgs M] [--size SIZE]
       bench/build-resource-captures.py worst OUT.pcap [--conns N]
       bench/build-resource-captures.py aliases OUT.pcap [--conns N] [--msgs M]"""
import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcaplib import PcapWriter, tcp_frame  # noqa: E402

SYN, FIN, PSH, ACK = 0x02, 0x01, 0x08, 0x10
T0 = 1_700_000_000_000_000
CLIENT = bytes([192, 168, 77, 10])
SERVER = bytes([192, 168, 77, 1])
MSS = 1460


def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_str(s):
    return struct.pack("!H", len(s)) + s


def connect(client_id, keep_alive):
    var = mqtt_str(b"MQTT") + bytes([4, 0x02]) + struct.pack("!H", keep_alive)
    body = var + mqtt_str(client_id)
    return bytes([0x10]) + varint(len(body)) + body


def publish(topic, payload):
    body = mqtt_str(topic) + payload
    return bytes([0x30]) + varint(len(body)) + body


class Conn:
    """One TCP connection; frames go to `emit(ts, frame)`."""

    def __init__(self, emit, sport, cseq=1000, sseq=5000):
        self.emit, self.sport = emit, sport
        self.c, self.s = cseq, sseq  # next sequence number of each side

    def handshake(self, t):
        e = self.emit
        e(t, tcp_frame(CLIENT, SERVER, self.sport, 1883, self.c, 0, SYN))
        e(t + 40, tcp_frame(SERVER, CLIENT, 1883, self.sport, self.s, self.c + 1, SYN | ACK))
        self.c += 1
        self.s += 1
        e(t + 80, tcp_frame(CLIENT, SERVER, self.sport, 1883, self.c, self.s, ACK))

    def client_data(self, t, data, ack=True):
        self.emit(t, tcp_frame(CLIENT, SERVER, self.sport, 1883, self.c, self.s, PSH | ACK, data))
        self.c += len(data)
        if ack:
            self.emit(t + 30, tcp_frame(SERVER, CLIENT, 1883, self.sport, self.s, self.c, ACK))

    def server_data(self, t, data):
        self.emit(t, tcp_frame(SERVER, CLIENT, 1883, self.sport, self.s, self.c, PSH | ACK, data))
        self.s += len(data)
        self.emit(t + 30, tcp_frame(CLIENT, SERVER, self.sport, 1883, self.c, self.s, ACK))

    def close(self, t):
        e = self.emit
        e(t, tcp_frame(CLIENT, SERVER, self.sport, 1883, self.c, self.s, FIN | ACK))
        self.c += 1
        e(t + 30, tcp_frame(SERVER, CLIENT, 1883, self.sport, self.s, self.c, FIN | ACK))
        self.s += 1
        e(t + 60, tcp_frame(CLIENT, SERVER, self.sport, 1883, self.c, self.s, ACK))


def slowite(out, conns):
    frames = []

    def emit(t, f):
        frames.append((t, len(frames), f))

    cs = []
    for i in range(conns):
        c = Conn(emit, 10000 + i)
        t = T0 + i * 1000  # one new connection per millisecond
        c.handshake(t)
        c.client_data(t + 200, connect(b"slow-%05d" % i, 65535), ack=False)
        c.server_data(t + 300, b"\x20\x02\x00\x00")
        cs.append(c)
    for i, c in enumerate(cs):
        t = T0 + 60_000_000 + conns * 1000 + i * 1000
        if i % 2 == 0:
            c.client_data(t, b"\xc0\x00", ack=False)
            c.server_data(t + 100, b"\xd0\x00")
        else:
            c.client_data(t, b"\x30\x7f")  # a PUBLISH header announcing 127 bytes that never come
    frames.sort()
    w = PcapWriter(out)
    for t, _, f in frames:
        w.write(t, f)
    w.close()
    return len(frames)


def bigpub(out, msgs, size):
    w = PcapWriter(out)
    n = [0]

    def emit(t, f):
        w.write(t, f)
        n[0] += 1

    c = Conn(emit, 40000)
    t = T0
    c.handshake(t)
    c.client_data(t + 200, connect(b"big-publisher", 60), ack=False)
    c.server_data(t + 300, b"\x20\x02\x00\x00")
    t += 1000
    payload = bytes((i * 7 + 3) & 0xFF for i in range(size))
    for m in range(msgs):
        data = publish(b"flood/big", payload)
        for k, off in enumerate(range(0, len(data), MSS)):
            t += 10
            seg = data[off:off + MSS]
            emit(t, tcp_frame(CLIENT, SERVER, 40000, 1883, c.c, c.s, ACK | (PSH if off + MSS >= len(data) else 0), seg))
            c.c += len(seg)
            if k % 2 == 1 or off + MSS >= len(data):
                emit(t + 5, tcp_frame(SERVER, CLIENT, 1883, 40000, c.s, c.c, ACK))
        t += 1000
    c.client_data(t, b"\xe0\x00")
    c.close(t + 1000)
    w.close()
    return n[0]


def aliases(out, conns, msgs):
    w = PcapWriter(out)
    n = [0]

    def emit(t, f):
        w.write(t, f)
        n[0] += 1

    connect5 = bytes([0x10, 13]) + mqtt_str(b"MQTT") + bytes([5, 0x02, 0, 60, 0]) + mqtt_str(b"")
    connack5 = bytes([0x20, 6, 0, 0, 3, 0x22, 0xFF, 0xFF])
    t = T0
    for i in range(conns):
        c = Conn(emit, 10000 + i)
        c.handshake(t)
        c.client_data(t + 200, connect5, ack=False)
        c.server_data(t + 300, connack5)
        t += 1000
        stream = bytearray()
        for a in range(1, msgs + 1):
            topic = (b"c%05d/alias%05d/" % (i, a)).ljust(48, b"x")
            props = bytes([3, 0x23]) + struct.pack("!H", a)
            body = mqtt_str(topic) + props + b"v"
            stream += bytes([0x30]) + varint(len(body)) + body
        for off in range(0, len(stream), MSS):
            t += 10
            c.client_data(t, bytes(stream[off:off + MSS]))
        t += 1000
    w.close()
    return n[0]


def worst(out, conns):
    w = PcapWriter(out)
    n = [0]

    def emit(t, f):
        w.write(t, f)
        n[0] += 1

    keep_alive = 65535
    connect5 = (bytes([0x10, 13]) + mqtt_str(b"MQTT") + bytes([5, 0x02]) +
                struct.pack("!H", keep_alive) + bytes([0]) + mqtt_str(b""))
    connack5 = bytes([0x20, 6, 0, 0, 3, 0x22, 0xFF, 0xFF])
    marks = []
    t = T0
    for i in range(conns):
        c = Conn(emit, 10000 + i)
        c.handshake(t)
        c.client_data(t + 200, connect5, ack=False)
        c.server_data(t + 300, connack5)
        t += 1000
        stream = bytearray()
        for a in range(1, 1025):
            topic = (b"c%05d/alias%05d/" % (i, a)).ljust(64, b"x")
            props = bytes([3, 0x23]) + struct.pack("!H", a)
            if a <= 64:  # QoS 2, packet id a, never acknowledged
                body = mqtt_str(topic) + struct.pack("!H", a) + props + b"v"
                stream += bytes([0x34]) + varint(len(body)) + body
            else:
                body = mqtt_str(topic) + props + b"v"
                stream += bytes([0x30]) + varint(len(body)) + body
        for off in range(0, len(stream), MSS):
            t += 10
            c.client_data(t, bytes(stream[off:off + MSS]))
        # A PUBLISH that never completes, dripped one byte per segment.
        partial = bytes([0x30]) + varint(1000) + mqtt_str(b"drip") + b"d" * 300
        for k in range(300):
            t += 10
            c.client_data(t, partial[k:k + 1], ack=False)
        t += 1000
        if (i + 1) % 1000 == 0:
            w.f.flush()
            marks.append((i + 1, w.f.tell()))
    w.close()
    with open(out + ".idx", "w") as f:
        for k, pos in marks:
            f.write(f"{k} {pos}\n")
    return n[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["slowite", "bigpub", "aliases", "worst"])
    ap.add_argument("out")
    ap.add_argument("--conns", type=int)
    ap.add_argument("--msgs", type=int)
    ap.add_argument("--size", type=int, default=1_000_000)
    a = ap.parse_args()
    tmp = a.out + ".tmp"
    if a.kind == "slowite":
        n = slowite(tmp, a.conns or 10000)
    elif a.kind == "bigpub":
        n = bigpub(tmp, a.msgs or 200, a.size)
    elif a.kind == "worst":
        n = worst(tmp, a.conns or 10000)
        os.replace(tmp + ".idx", a.out + ".idx")
    else:
        n = aliases(tmp, a.conns or 1000, a.msgs or 1024)
    os.replace(tmp, a.out)
    print(f"{a.out}: {n} packets")


if __name__ == "__main__":
    main()
