#!/usr/bin/env python3
"""Compares the mqtt_ml records of two Suricata runs over the same capture, message by message
(key: flow 5-tuple, direction, msg_index): how many scores differ, and which logged features
(`log-features: yes`) and per-source counters differ. Used to explain score differences between
runmodes. Usage: bench/feature-diff.py A/eve.json B/eve.json [model.json]"""
import json
import os
import sys
from collections import Counter


def load(path):
    d = {}
    with open(path) as f:
        for line in f:
            if '"event_type":"mqtt_ml"' not in line:
                continue
            e = json.loads(line)
            x = e["mqtt_ml"]
            d[(e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"], x["direction"], x["msg_index"])] = x
    return d


def main():
    a, b = load(sys.argv[1]), load(sys.argv[2])
    meta = sys.argv[3] if len(sys.argv) > 3 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "models", "mqtt-ml.json")
    names = json.load(open(meta))["schema"]["features"]
    keys = set(a) & set(b)
    diff_score, feats, other = 0, Counter(), Counter()
    for k in keys:
        x, y = a[k], b[k]
        diff_score += x.get("score") != y.get("score")
        for i, (u, v) in enumerate(zip(x.get("features", []), y.get("features", []))):
            if u != v:
                feats[names[i]] += 1
        for f in ("src", "flow", "tcp"):
            if x.get(f) != y.get(f):
                other[f] += 1
    print(f"{len(keys)} messages in both ({len(set(a) ^ set(b))} in only one); "
          f"{diff_score} scores differ")
    print("features that differ (messages):", dict(feats.most_common()) or "none")
    print("EVE context objects that differ (messages):", dict(other.most_common()) or "none")


if __name__ == "__main__":
    main()
