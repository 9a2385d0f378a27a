#!/usr/bin/env python3
"""HTTP, TLS and DNS traffic for the non-MQTT benchmark capture (bench/build-nonmqtt-capture.sh
runs this inside a private network namespace while tcpdump records its loopback).

    nonmqtt-traffic.py CERT KEY [--http N] [--tls N] [--dns N]

Servers: an HTTP/1.1 server on 127.0.0.1:80 (files of 200 B to 60 KB), a TLS server on :443
(the same content over TLS 1.2/1.3) and a DNS responder on UDP :53 (A records). Clients: N HTTP
connections (one to three requests each), N TLS connections (one request each) and N DNS
queries, interleaved. Deterministic apart from the kernel's timing."""
import argparse
import http.client
import http.server
import random
import socket
import socketserver
import ssl
import struct
import threading

SIZES = [200, 1_500, 8_000, 20_000, 60_000]
BODY = {f"/f{s}": (b"abcdefghij" * (s // 10 + 1))[:s] for s in SIZES}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = BODY.get(self.path, b"not found")
        self.send_response(200 if self.path in BODY else 404)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def dns_server(sock):
    while True:
        try:
            q, addr = sock.recvfrom(512)
        except OSError:
            return
        if len(q) < 12:
            continue
        # Echo the question, add one A record pointing back at it (name compression to 0x0c).
        head = q[:2] + b"\x81\x80" + q[4:6] + b"\x00\x01\x00\x00\x00\x00"
        answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([10, 0, 0, q[1]])
        sock.sendto(head + q[12:] + answer, addr)


def dns_query(sock, i, rnd):
    name = f"host{rnd.randrange(10_000)}.example{i % 37}.test"
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    q = struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + qname + b"\x00\x01\x00\x01"
    sock.sendto(q, ("127.0.0.1", 53))
    sock.recvfrom(512)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cert")
    ap.add_argument("key")
    ap.add_argument("--http", type=int, default=4000)
    ap.add_argument("--tls", type=int, default=1500)
    ap.add_argument("--dns", type=int, default=20000)
    a = ap.parse_args()
    rnd = random.Random(1)

    httpd = Server(("127.0.0.1", 80), Handler)
    tlsd = Server(("127.0.0.1", 443), Handler)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(a.cert, a.key)
    tlsd.socket = sctx.wrap_socket(tlsd.socket, server_side=True)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 53))
    for target, arg in ((httpd.serve_forever, ()), (tlsd.serve_forever, ()), (dns_server, (udp,))):
        threading.Thread(target=target, args=arg, daemon=True).start()

    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    qsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    qsock.settimeout(2)
    total = max(a.http, a.tls, 1)
    n_dns = 0
    for i in range(total):
        if i < a.http:
            c = http.client.HTTPConnection("127.0.0.1", 80, timeout=5)
            for _ in range(1 + i % 3):
                c.request("GET", rnd.choice(list(BODY)), headers={"User-Agent": "bench/1.0"})
                c.getresponse().read()
            c.close()
        if i < a.tls:
            if i % 2:
                cctx.maximum_version = ssl.TLSVersion.TLSv1_2
            else:
                cctx.maximum_version = ssl.TLSVersion.TLSv1_3
            c = http.client.HTTPSConnection("127.0.0.1", 443, timeout=5, context=cctx)
            c.request("GET", rnd.choice(list(BODY)))
            c.getresponse().read()
            c.close()
        while n_dns < a.dns * (i + 1) // total:
            dns_query(qsock, n_dns, rnd)
            n_dns += 1
    httpd.shutdown()
    tlsd.shutdown()
    udp.close()


if __name__ == "__main__":
    main()
