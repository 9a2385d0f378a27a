"""Feature vectors from the plugin: one Suricata run per capture, cached.

The plugin is the only feature extractor (docs/features.md): with scoring off and
`log-features: yes` every `mqtt_ml` EVE record carries the 28 transformed, unscaled features. A
second extractor in Python would drift from what the plugin scores in production, so none exists.
Runs are cached by (pcap sha256, plugin .so sha256): a rebuilt plugin re-extracts everything.
"""

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import config

# The contract command; `-k none` because loopback captures carry offloaded (unfilled) checksums.
SURICATA_CMD = r'''
set -e
. scripts/env.sh
exec suricata -c "$SURICATA_YAML" --set plugins.0="$1" \
  --set app-layer.protocols.mqtt-ml.scoring=no \
  --set app-layer.protocols.mqtt-ml.log-features=yes \
  --runmode single -k none -r "$2" -l "$3"
'''
CACHE_VERSION = "1"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Messages:
    """One capture's MQTT messages, in EVE order, and its connections (Suricata flows).

    `conn` indexes the per-connection arrays (`flow_id`, `src_ip`, ...); src is the TCP client.
    """

    X: np.ndarray          # (n, width) float32, transformed, not scaled
    ts: np.ndarray         # (n,) float64 message time (tcp.ts)
    conn: np.ndarray       # (n,) int32
    msg_index: np.ndarray  # (n,) int32, 1-based position in the flow
    msgtype: np.ndarray    # (n,) str
    to_client: np.ndarray  # (n,) bool
    flow_id: np.ndarray    # (c,) uint64
    src_ip: np.ndarray     # (c,) str
    src_port: np.ndarray   # (c,) int32
    dst_ip: np.ndarray     # (c,) str
    dst_port: np.ndarray   # (c,) int32

    FIELDS = ("X", "ts", "conn", "msg_index", "msgtype", "to_client", "flow_id", "src_ip",
              "src_port", "dst_ip", "dst_port")

    @property
    def n(self) -> int:
        return len(self.ts)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **{k: getattr(self, k) for k in self.FIELDS})
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "Messages":
        with np.load(path, allow_pickle=False) as z:
            return cls(**{k: z[k] for k in cls.FIELDS})


def parse_eve(eve: Path, width: int) -> Messages:
    """Reads the `mqtt_ml` records of one eve.json (other event types are skipped cheaply)."""
    rows, ts, conn, idx, mtype, tc = [], [], [], [], [], []
    conns = {}
    with open(eve, "rb") as f:
        for line in f:
            if b'"event_type":"mqtt_ml"' not in line:
                continue
            d = json.loads(line)
            m = d["mqtt_ml"]
            feats = m.get("features")
            if feats is None or len(feats) != width:
                raise RuntimeError(f"{eve}: an mqtt_ml record without {width} features "
                                   "(is log-features on, and does the schema match?)")
            key = (d["flow_id"], d["src_ip"], d["src_port"], d["dest_ip"], d["dest_port"])
            conn.append(conns.setdefault(key, len(conns)))
            rows.append(feats)
            ts.append(m["tcp"]["ts"])
            idx.append(m.get("msg_index", 0))
            mtype.append(m.get("msgtype_name", ""))
            tc.append(m.get("direction") == "to_client")
    keys = list(conns)
    return Messages(
        X=np.asarray(rows, dtype=np.float32).reshape(-1, width),
        ts=np.asarray(ts, dtype=np.float64),
        conn=np.asarray(conn, dtype=np.int32),
        msg_index=np.asarray(idx, dtype=np.int32),
        msgtype=np.asarray(mtype, dtype=str),
        to_client=np.asarray(tc, dtype=bool),
        flow_id=np.asarray([k[0] for k in keys], dtype=np.uint64),
        src_ip=np.asarray([k[1] for k in keys], dtype=str),
        src_port=np.asarray([k[2] for k in keys], dtype=np.int32),
        dst_ip=np.asarray([k[3] for k in keys], dtype=str),
        dst_port=np.asarray([k[4] for k in keys], dtype=np.int32),
    )


def run_suricata(pcap: Path, plugin: Path, outdir: Path) -> Path:
    """One Suricata run with the plugin over `pcap`; returns the eve.json path."""
    outdir.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["bash", "-c", SURICATA_CMD, "suricata", str(plugin), str(pcap),
                        str(outdir)], cwd=config.REPO, capture_output=True, text=True,
                       timeout=1800)
    eve = outdir / "eve.json"
    if p.returncode != 0 or not eve.exists():
        tail = (p.stderr or p.stdout)[-2000:]
        raise RuntimeError(f"suricata failed on {pcap} (exit {p.returncode}):\n{tail}")
    return eve


class Extractor:
    """Feature extraction with a cache under $MQTT_ML_CACHE/features."""

    def __init__(self, plugin: Path, width: int, cache: Path):
        self.plugin = plugin
        self.plugin_sha = sha256_file(plugin)
        self.width = width
        self.cache = cache
        self.cache.mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = 0

    def messages(self, pcap: Path, pcap_sha: str = None) -> Messages:
        pcap_sha = pcap_sha or sha256_file(pcap)
        key = hashlib.sha256(f"{CACHE_VERSION}/{pcap_sha}/{self.plugin_sha}".encode()).hexdigest()
        path = self.cache / f"{key[:32]}.npz"
        if path.exists():
            self.hits += 1
            return Messages.load(path)
        self.misses += 1
        work = Path(tempfile.mkdtemp(prefix="mqtt-ml-features-"))
        try:
            msgs = parse_eve(run_suricata(pcap, self.plugin, work), self.width)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if msgs.n == 0:
            raise RuntimeError(f"{pcap}: the plugin logged no MQTT message")
        msgs.save(path)
        return msgs
