"""Minimal classic-pcap reading and writing, and IPv4/TCP packet building, for the bench scripts.
Ethernet (linktype 1) with IPv4 and TCP only: what the project's captures hold."""
import array
import struct
import sys

LINKTYPE_ETHERNET = 1
_ETH_IPV4 = b"\x00" * 12 + b"\x08\x00"


def read_pcap(path):
    """Yields (ts_sec, ts_usec, frame bytes) of a microsecond-resolution pcap."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic == 0xA1B2C3D4:
            endian = "<"
        elif magic == 0xD4C3B2A1:
            endian = ">"
        else:
            raise ValueError(f"{path}: not a microsecond classic pcap")
        linktype = struct.unpack(endian + "I", hdr[20:24])[0]
        if linktype != LINKTYPE_ETHERNET:
            raise ValueError(f"{path}: linktype {linktype}, expected Ethernet")
        rec = struct.Struct(endian + "IIII")
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, usec, incl, _orig = rec.unpack(h)
            yield sec, usec, f.read(incl)


class PcapWriter:
    def __init__(self, path, snaplen=262144):
        self.f = open(path, "wb", buffering=1 << 20)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET))
        self.rec = struct.Struct("<IIII")

    def write(self, ts_us, frame):
        self.f.write(self.rec.pack(ts_us // 1_000_000, ts_us % 1_000_000, len(frame), len(frame)))
        self.f.write(frame)

    def close(self):
        self.f.close()


def _csum(data):
    if len(data) % 2:
        data += b"\x00"
    a = array.array("H", data)
    if sys.byteorder == "little":
        a.byteswap()
    s = sum(a)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp_frame(src, dst, sport, dport, seq, ack, flags, payload=b"", window=65535, options=b""):
    """An Ethernet/IPv4/TCP frame with correct checksums. src/dst are 4-byte addresses."""
    off = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off << 4, flags, window, 0, 0) + options
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    c = _csum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6, 0,
                     src, dst)
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return _ETH_IPV4 + ip + tcp + payload


def readdress(frame, src, dst):
    """The same Ethernet/IPv4/TCP frame with new addresses and recomputed checksums
    (None when it is not IPv4/TCP)."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0x0F) * 4
    if frame[23] != 6:
        return None
    total = struct.unpack("!H", frame[16:18])[0]
    ip = bytearray(frame[14:14 + ihl])
    ip[12:16], ip[16:20] = src, dst
    ip[10:12] = b"\x00\x00"
    ip[10:12] = struct.pack("!H", _csum(bytes(ip)))
    seg = bytearray(frame[14 + ihl:14 + total])
    seg[16:18] = b"\x00\x00"
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(seg))
    seg[16:18] = struct.pack("!H", _csum(pseudo + bytes(seg)))
    return frame[:14] + bytes(ip) + bytes(seg) + frame[14 + total:]
