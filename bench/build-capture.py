#!/usr/bin/env python3
"""Builds the benchmark capture: COPIES copies of the project's captures (pcaps/*.pcap), each copy
of each capture on its own address pair (10.H.L.x, so no two copies share a 5-tuple) and started
STAGGER seconds after the previous copy, merged in time order. Deterministic: the same inputs give
the same bytes.

Usage: bench/build-capture.py OUT.pcap [--copies N] [--stagger S] [pcap ...]"""
import argparse
import glob
import heapq
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcaplib import PcapWriter, read_pcap, readdress  # noqa: E402

BASE_US = 1_700_000_000_000_000  # 2023-11-14 22:13:20 UTC


def load(path):
    pkts = [(s * 1_000_000 + u, frame) for s, u, frame in read_pcap(path)]
    t0 = pkts[0][0]
    return [(t - t0, frame) for t, frame in pkts]


def copy_stream(captures, k, stagger_us):
    """Packets of copy k, as (ts, seq, frame), in time order."""
    streams = []
    for i, pkts in enumerate(captures):
        n = k * len(captures) + i  # unique per (copy, capture)
        if n >= 1 << 16:
            raise SystemExit("too many copies for the 10.H.L.x address plan")

        def gen(pkts=pkts, n=n):
            start = BASE_US + k * stagger_us
            for j, (t, frame) in enumerate(pkts):
                src, dst = frame[26:30], frame[30:34]
                nsrc = bytes([10, n >> 8, n & 0xFF, src[3]])
                ndst = bytes([10, n >> 8, n & 0xFF, dst[3]])
                out = readdress(frame, nsrc, ndst)
                if out is not None:
                    yield start + t, n, j, out
        streams.append(gen())
    return heapq.merge(*streams)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--copies", type=int, default=280)
    ap.add_argument("--stagger", type=float, default=1.0)
    ap.add_argument("pcaps", nargs="*")
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    pcaps = a.pcaps or sorted(glob.glob(os.path.join(here, "..", "pcaps", "*.pcap")))
    captures = [load(p) for p in pcaps]
    w = PcapWriter(a.out + ".tmp")
    count = 0
    for ts, _n, _j, frame in heapq.merge(*(copy_stream(captures, k, int(a.stagger * 1e6))
                                           for k in range(a.copies))):
        w.write(ts, frame)
        count += 1
    w.close()
    os.replace(a.out + ".tmp", a.out)
    print(f"{a.out}: {count} packets from {len(pcaps)} captures x {a.copies} copies")


if __name__ == "__main__":
    main()
