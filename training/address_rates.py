"""Per client address: how hard benign devices and attackers drive the broker, per environment.

    python -m training.address_rates --corpus-dir DIR [--class malaria] [--window 10]

For each environment of a scripts/gen-corpus.py corpus, reads the benign capture and the attack
capture of the class with tshark, and prints, over every client address, the largest number of
CONNECTs and of PUBLISHes it sent within any window of --window seconds: the maximum over benign
addresses against the range over the attack's addresses. A per-address feature can only tell an
attack apart on a network it never saw if the attack's range sits above the benign maximum of
every other network; this shows whether it does.
"""

import argparse
import bisect
import csv
import subprocess
from collections import defaultdict
from pathlib import Path


def address_classes(labels: Path) -> dict:
    out = defaultdict(set)
    with open(labels, newline="") as f:
        for r in csv.DictReader(f):
            out[r["src_ip"]].add(r["class"])
    return out


def client_messages(pcap: Path, port: int = 1883) -> dict:
    """{client address: [(time, msgtype)]} of the messages clients sent to the broker."""
    p = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"tcp.dstport=={port} && mqtt",
                        "-T", "fields", "-e", "frame.time_epoch", "-e", "ip.src",
                        "-e", "mqtt.msgtype", "-E", "occurrence=a", "-E", "aggregator=,"],
                       capture_output=True, text=True, check=True)
    out = defaultdict(list)
    for line in p.stdout.splitlines():
        t, ip, types = line.split("\t")
        for ty in filter(None, types.split(",")):
            out[ip].append((float(t), int(ty)))
    return out


def most_in_window(times: list, window: float) -> int:
    times = sorted(times)
    return max((bisect.bisect_right(times, t + window) - i for i, t in enumerate(times)),
               default=0)


def rates(pcap: Path, labels: Path, window: float) -> dict:
    """{address: (classes, connects, publishes)}: most in any window."""
    classes = address_classes(labels)
    out = {}
    for ip, msgs in client_messages(pcap).items():
        out[ip] = (classes.get(ip, {"?"}),
                   most_in_window([t for t, ty in msgs if ty == 1], window),
                   most_in_window([t for t, ty in msgs if ty == 3], window))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus-dir", type=Path, required=True)
    ap.add_argument("--class", dest="cls", default="malaria")
    ap.add_argument("--run", default="a")
    ap.add_argument("--window", type=float, default=10.0, help="seconds (10)")
    a = ap.parse_args(argv)
    print(f"most CONNECTs / PUBLISHes one client address sent in any {a.window:g} s "
          f"(run {a.run})")
    print(f"{'environment':<12} {'benign max':>16} {a.cls + ' min..max':>24}")
    for env in sorted(p for p in a.corpus_dir.iterdir() if p.is_dir()):
        ben = env / f"benign-{a.run}.pcap"
        att = env / f"{a.cls}-{a.run}.pcap"
        if not ben.exists() or not att.exists():
            continue
        b = [v for v in rates(ben, ben.with_suffix(".labels.csv"), a.window).values()
             if v[0] == {"benign"}]
        x = [v for v in rates(att, att.with_name(att.stem + ".labels.csv"), a.window).values()
             if a.cls in v[0]]
        if not b or not x:
            continue
        print(f"{env.name:<12} {max(v[1] for v in b):>7} / {max(v[2] for v in b):<7}"
              f"{min(v[1] for v in x):>6}..{max(v[1] for v in x):<4} / "
              f"{min(v[2] for v in x)}..{max(v[2] for v in x)}")


if __name__ == "__main__":
    main()
