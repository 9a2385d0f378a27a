#!/usr/bin/env python3
"""bench/cost.sh's table: medians over the rounds of each configuration, and ratios.

Input lines: name round "user sys maxrss_kb wall" load1 mqtt_ml_records mqtt_records."""
import os
import statistics
import sys


def main():
    path, cap, slow, other = sys.argv[1:5]
    runs = {}
    loads = []
    for line in open(path, encoding="utf-8"):
        name, _rnd, times, load, ml, mq = line.rstrip("\n").split("\t")
        user, sys_, rss, wall = times.split()
        runs.setdefault(name, []).append(
            dict(user=float(user), sys=float(sys_), rss=int(rss) / 1024, wall=float(wall),
                 ml=int(ml), mq=int(mq)))
        loads.append(float(load))

    def med(name, key):
        return statistics.median(r[key] for r in runs[name]) if name in runs else float("nan")

    def cpu(name):
        return statistics.median(r["user"] + r["sys"] for r in runs[name])

    n = max(len(v) for v in runs.values())
    print(f"{n} interleaved rounds; 1-minute load average during the runs "
          f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs")
    print(f"MQTT capture: {os.path.basename(cap)}; SlowITe: {os.path.basename(slow)}; "
          f"non-MQTT: {os.path.basename(other)}")
    print()
    groups = [("stock", ["stock", "floor", "default", "no-score", "native", "anomalies"]),
              ("slowite-stock", ["slowite-stock", "slowite-default"]),
              ("other-absent", ["other-absent", "other-loaded"])]
    hdr = ("configuration", "CPU s", "x base", "user s", "sys s", "RSS MiB", "RSS x base",
           "wall s", "mqtt_ml", "mqtt")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for base, names in groups:
        for name in names:
            if name not in runs or base not in runs:
                continue
            row = (name, f"{cpu(name):.2f}", f"{cpu(name) / cpu(base):.3f}",
                   f"{med(name, 'user'):.2f}", f"{med(name, 'sys'):.2f}",
                   f"{med(name, 'rss'):.0f}", f"{med(name, 'rss') / med(base, 'rss'):.3f}",
                   f"{med(name, 'wall'):.2f}", f"{med(name, 'ml'):.0f}", f"{med(name, 'mq'):.0f}")
            print("| " + " | ".join(row) + " |")
    print()
    # Per message above the floor: the plugin's records count the messages it parsed.
    msgs = med("default", "ml") if "default" in runs else 0
    if msgs and "floor" in runs:
        for name in ("stock", "default", "no-score", "native"):
            if name in runs:
                us = (cpu(name) - cpu("floor")) / msgs * 1e6
                print(f"{name}: {us:.2f} us CPU per MQTT message above the floor "
                      f"({msgs:.0f} messages)")
    print()
    print("targets: default CPU x stock <= 1.00; RSS x stock <= 1.20 (MQTT and SlowITe); "
          "other-loaded x other-absent <= 1.02")
    for label, a, b, limit, key in (
            ("CPU default/stock", "default", "stock", 1.0, "cpu"),
            ("RSS default/stock", "default", "stock", 1.2, "rss"),
            ("RSS slowite-default/slowite-stock", "slowite-default", "slowite-stock", 1.2, "rss"),
            ("CPU other-loaded/other-absent", "other-loaded", "other-absent", 1.02, "cpu")):
        if a in runs and b in runs:
            ratio = cpu(a) / cpu(b) if key == "cpu" else med(a, "rss") / med(b, "rss")
            print(f"  {label}: {ratio:.3f} ({'met' if ratio <= limit else 'MISSED'}, limit {limit})")


if __name__ == "__main__":
    main()
