#!/usr/bin/env python3
"""Prints bench/run.sh's table: medians per configuration and ratios to stock Suricata (a),
then the score-consistency checks. Usage: report.py RESULTS.tsv PACKETS MESSAGES WORK_DIR"""
import os
import statistics
import sys

NAMES = {
    "a": "stock, built-in MQTT + EVE mqtt",
    "b": "MQTT parser disabled (floor)",
    "c": "mqtt-ml, tflite",
    "d": "mqtt-ml, native",
    "a2": "stock, 2 workers",
    "c2": "mqtt-ml tflite, 2 workers",
    "d2": "mqtt-ml native, 2 workers",
}


def main():
    path, pkts, msgs, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    runs = {}
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) < 11:
            continue
        runs.setdefault(f[0], []).append(dict(
            wall=float(f[2]), load=float(f[3]), rss=int(f[4]), scored=int(f[5]), ns=int(f[6]),
            workers=f[7], eve_mqtt=int(f[8]), eve_ml=int(f[9]), pkts=int(f[10]),
            cpu=float(f[11]) if len(f) > 11 else float("nan")))
    med = {c: statistics.median(r["wall"] for r in rs) for c, rs in runs.items()}
    rss = {c: statistics.median(r["rss"] for r in rs) for c, rs in runs.items()}
    cpu = {c: statistics.median(r["cpu"] for r in rs) for c, rs in runs.items()}
    print(f"capture: {pkts} packets, {msgs} MQTT messages (tshark); medians of "
          f"{max(len(r) for r in runs.values())} interleaved rounds")
    hdr = ("config", "what", "thr", "n", "wall s", "min-max s", "x a", "CPU s", "x a", "kpkt/s", "kmsg/s",
           "RSS MiB", "x a", "ns/msg", "EVE recs", "load1")
    rows = []
    for c in [k for k in NAMES if k in runs]:
        rs = runs[c]
        ref = "a" if c in ("a", "b", "c", "d") or "a2" not in runs else "a2"
        ns = [r["ns"] / r["scored"] for r in rs if r["scored"]]
        loads = [r["load"] for r in rs]
        rows.append((
            c, NAMES[c], rs[0]["workers"], str(len(rs)), f"{med[c]:.2f}",
            f"{min(r['wall'] for r in rs):.2f}-{max(r['wall'] for r in rs):.2f}",
            f"{med[c] / med[ref]:.3f}" + ("" if ref == "a" else "*") if ref in med else "-",
            f"{cpu[c]:.2f}",
            f"{cpu[c] / cpu[ref]:.3f}" + ("" if ref == "a" else "*") if ref in cpu else "-",
            f"{pkts / med[c] / 1e3:.0f}", f"{msgs / med[c] / 1e3:.0f}",
            f"{rss[c] / 1024:.0f}",
            f"{rss[c] / rss[ref]:.3f}" + ("" if ref == "a" else "*") if ref in rss else "-",
            f"{statistics.median(ns):.0f}" if ns else "-",
            str(rs[0]["eve_ml"] or rs[0]["eve_mqtt"]),
            f"{min(loads):.2f}-{max(loads):.2f}"))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(hdr)]
    for r in [hdr] + rows:
        print("  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))))
    print("wall s: median wall-clock time; CPU s: median user+sys time of the process; "
          "kpkt/s, kmsg/s: packets and tshark-counted MQTT messages per wall second")
    print("x a: ratio to a (* = to a2, the same 2-worker setup); ns/msg = mqtt_ml.scoring_ns / "
          "mqtt_ml.scored (feature extraction + scaling + model + error ranking)")

    def load_scores(c):
        p = os.path.join(work, f"scores-{c}.tsv")
        if not os.path.exists(p):
            return None
        d = {}
        for line in open(p):
            k, _, s = line.rstrip("\n").partition("\t")
            if k:
                d[k] = s
        return d

    for x, y, exact in (("c", "c2", True), ("d", "d2", True), ("c", "d", False)):
        sx, sy = load_scores(x), load_scores(y)
        if sx is None or sy is None:
            continue
        keys = set(sx) | set(sy)
        missing = sum(1 for k in keys if k not in sx or k not in sy)
        both = [k for k in keys if k in sx and k in sy]
        diff = [k for k in both if sx[k] != sy[k]]
        line = (f"{x} vs {y}: {len(both)} messages compared (flow 5-tuple, direction, msg_index),"
                f" {len(diff)} score mismatches, {missing} present in only one")
        if not exact and both:
            def num(v):
                try:
                    return float(v)
                except ValueError:
                    return float("nan")
            worst = max(abs(num(sx[k]) - num(sy[k])) for k in both)
            line += f"; max |difference| {worst:.3g}"
        print(line)
        for k in diff[:3]:
            print(f"  e.g. {k}: {sx[k]} vs {sy[k]}")


if __name__ == "__main__":
    main()
