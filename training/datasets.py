"""Which captures the pipeline reads: MQTTset (in place) and the project's generated dataset.

MQTTset is CC BY-NC-SA: it is only ever read where it lies, never copied. The generated dataset
comes from scripts/gen-dataset.py and is kept in the cache; it is regenerated only when its
manifest does not match the requested seed and scale (generation takes minutes, it needs root
for tcpdump, and its output is deterministic enough to be reused).
"""

import csv
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import config
from .features import sha256_file

MQTTSET_CLASSES = ["benign-5mb", "benign", "bruteforce", "flood", "malariados", "malformed",
                   "slowite"]
GENERATED_CLASSES = ["benign", "flood", "slowite", "bruteforce", "malformed", "malaria"]
GENERATED_RUNS = ("a", "b")


@dataclass
class Capture:
    """One pcap and what is known about it before any packet is read."""

    dataset: str             # "mqttset", "generated" or "corpus"
    name: str                # file stem, e.g. "flood-train" or "flood-b"
    cls: str                 # canonical class of the capture (config.CLASSES)
    path: Path
    sha256: str
    run: str = ""            # generated data: "a" (training) or "b" (evaluation)
    labels: list = field(default_factory=list)  # generated data: rows of <name>.labels.csv
    role: str = "use"        # "use", or "prefix" for MQTTset's benign-train (see below)
    env: str = ""            # the environment it was captured in (see environment())

    @property
    def environment(self) -> str:
        """"mqttset" (its testbed), "generated" (the loopback smart home of gen-dataset.py), or a
        corpus environment by name."""
        return self.env or self.dataset


def canonical(cls: str) -> str:
    return config.CLASS_ALIASES.get(cls, cls)


def mqttset_captures(root: Path) -> list:
    """The MQTTset train-split captures, one per class directory.

    `benign/benign-train.pcap` holds the same 7 connections as `benign-5mb`, only shorter (the
    first 1 MB instead of 5 MB); it is kept as role "prefix" so the corpus can verify that and
    then leave it out (it would count the same messages twice).
    """
    caps = []
    for d in MQTTSET_CLASSES:
        files = sorted(p for p in (root / d).glob("*.pcap*") if p.is_file())
        if not files:
            raise FileNotFoundError(f"MQTTset: no capture in {root / d}")
        for p in files:
            cls = config.BENIGN if d.startswith("benign") else canonical(d)
            caps.append(Capture("mqttset", p.name.split(".")[0], cls, p, sha256_file(p),
                                role="prefix" if d == "benign" else "use"))
    return caps


def read_labels(path: Path) -> list:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["src_port"], r["dst_port"] = int(r["src_port"]), int(r["dst_port"])
        r["first_ts"], r["last_ts"] = float(r["first_ts"]), float(r["last_ts"])
        r["class"] = canonical(r["class"])
    return rows


def _manifest_ok(out: Path, seed: int, scale: str) -> bool:
    m = out / "manifest.json"
    if not m.exists():
        return False
    try:
        man = json.loads(m.read_text())
    except ValueError:
        return False
    if man.get("seed") != seed or man.get("scale") != scale:
        return False
    have = {(e["class"], e["run"]) for e in man.get("captures", [])}
    want = {(c, r) for c in GENERATED_CLASSES for r in GENERATED_RUNS}
    if not want <= have:
        return False
    return all((out / e["pcap"]).exists() and (out / e["labels"]).exists()
               for e in man["captures"])


def ensure_generated(out: Path, seed: int, scale: str, log) -> dict:
    """Runs scripts/gen-dataset.py into `out` unless a matching dataset is already there."""
    if _manifest_ok(out, seed, scale):
        log(f"generated dataset: reusing {out} (seed {seed}, scale {scale})")
    else:
        gen = config.REPO / "scripts" / "gen-dataset.py"
        if not gen.exists():
            raise FileNotFoundError(f"{gen} not found: cannot generate the dataset")
        log(f"generated dataset: running {gen.relative_to(config.REPO)} --scale {scale} "
            f"--seed {seed} (takes minutes)")
        p = subprocess.run([sys.executable, str(gen), "--out", str(out), "--scale", scale,
                            "--seed", str(seed)], cwd=config.REPO)
        if not _manifest_ok(out, seed, scale):
            raise RuntimeError(f"gen-dataset.py failed (exit {p.returncode}); see its output")
    man = json.loads((out / "manifest.json").read_text())
    # The generator's own sanity checks (e.g. how many malformed connections tshark flags) are
    # reported, not fatal: the labels are per connection and were verified either way.
    for prob in man.get("problems", []):
        log(f"generated dataset: generator reported: {prob}")
    return man


def generated_captures(out: Path, manifest: dict) -> list:
    caps = []
    for e in manifest["captures"]:
        if e["class"] not in GENERATED_CLASSES or e["run"] not in GENERATED_RUNS:
            continue
        p = out / e["pcap"]
        caps.append(Capture("generated", p.stem, canonical(e["class"]), p, e["pcap_sha256"],
                            run=e["run"], labels=read_labels(out / e["labels"])))
    return caps


def corpus_captures(root: Path) -> list:
    """Captures of scripts/gen-corpus.py: one directory per environment, each holding
    `<class>-<run>.pcap` with its `<class>-<run>.labels.csv` (one row per connection)."""
    caps = []
    if not root.is_dir():
        return caps
    for envdir in sorted(p for p in root.iterdir() if p.is_dir()):
        for lab in sorted(envdir.glob("*.labels.csv")):
            pcap = lab.with_name(lab.name[: -len(".labels.csv")] + ".pcap")
            if not pcap.exists():
                continue
            stem = pcap.stem
            cls, _, run = stem.rpartition("-")
            cls = canonical(cls)
            if cls not in config.CLASSES:
                continue
            caps.append(Capture("corpus", f"{envdir.name}/{stem}", cls, pcap, sha256_file(pcap),
                                run=run, labels=read_labels(lab), env=envdir.name))
    return caps
