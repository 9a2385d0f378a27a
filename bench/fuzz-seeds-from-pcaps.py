#!/usr/bin/env python3
"""Starting inputs for the fuzz targets from the project's own captures (pcaps/).

  wire/         one file per connection direction: its TCP payload bytes, concatenated
  plugin_path/  one file per connection in plugin_path's chunk format (both directions, one chunk
                per TCP segment, in capture order)

Usage: bench/fuzz-seeds-from-pcaps.py OUT_DIR [pcap ...]   (default: pcaps/*.pcap)
Needs tshark."""
import glob
import os
import subprocess
import sys
from collections import defaultdict


def segments(pcap):
    out = subprocess.run(
        ["tshark", "-r", pcap, "-Y", "tcp.len > 0", "-T", "fields",
         "-e", "tcp.stream", "-e", "tcp.dstport", "-e", "tcp.payload"],
        check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        stream, dport, payload = (line.split("\t") + ["", "", ""])[:3]
        if payload:
            yield int(stream), int(dport), bytes.fromhex(payload.replace(":", ""))


def main():
    out = sys.argv[1]
    pcaps = sys.argv[2:] or sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "pcaps", "*.pcap")))
    os.makedirs(os.path.join(out, "wire"), exist_ok=True)
    os.makedirs(os.path.join(out, "plugin_path"), exist_ok=True)
    for pcap in pcaps:
        name = os.path.splitext(os.path.basename(pcap))[0]
        server_port = 18830 if "otherport" in name else 1883
        dirs = defaultdict(bytearray)
        chunks = defaultdict(bytearray)
        for stream, dport, data in segments(pcap):
            to_client = dport != server_port
            dirs[(stream, to_client)] += data
            for i in range(0, len(data), 255):
                part = data[i:i + 255]
                chunks[stream] += bytes([(4 << 2) | int(to_client), len(part)]) + part
        for (stream, to_client), data in dirs.items():
            with open(os.path.join(out, "wire", f"{name}-{stream}-{'tc' if to_client else 'ts'}"), "wb") as f:
                f.write(data)
        for stream, data in chunks.items():
            with open(os.path.join(out, "plugin_path", f"{name}-{stream}"), "wb") as f:
                f.write(bytes([0b00000010, 0x10]) + data)


if __name__ == "__main__":
    main()
