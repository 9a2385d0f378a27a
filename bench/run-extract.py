#!/usr/bin/env python3
"""One benchmark run's figures as a TSV line (used by bench/run.sh):
config round wall_s load1 maxrss_kb scored scoring_ns workers eve_mqtt eve_mqtt_ml pkts cpu_s
With --scores, also writes WORK/scores-CONFIG.tsv: one line per mqtt_ml record,
"src_ip src_port dest_ip dest_port msg_index direction<TAB>score" (score as logged), sorted."""
import os
import re
import subprocess
import sys


def main():
    cfg, rnd, t0, t1, load, out, work = sys.argv[1:8]
    want_scores = "--scores" in sys.argv[8:]
    wall = float(t1) - float(t0)
    rss, cpu = 0, 0.0
    with open(os.path.join(out, "time.txt")) as f:
        for line in f:
            if "Maximum resident set size" in line:
                rss = int(line.rsplit(":", 1)[1])
            elif "User time (seconds)" in line or "System time (seconds)" in line:
                cpu += float(line.rsplit(":", 1)[1])
    stats = {}
    path = os.path.join(out, "stats.log")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = [p.strip() for p in line.split("|")]
                if len(parts) == 3 and parts[1] == "Total":
                    stats[parts[0]] = int(parts[2])  # the last dump (at exit) wins
    workers = "?"
    with open(os.path.join(out, "suricata.log")) as f:
        for line in f:
            m = re.search(r"Threads created -> .*?W: (\d+)", line)
            if m:
                workers = m.group(1)
    eve = os.path.join(out, "eve.json")

    def count(pat):
        r = subprocess.run(["grep", "-c", pat, eve], capture_output=True, text=True)
        return int(r.stdout.strip() or 0)

    n_mqtt = count('"event_type":"mqtt"')
    n_ml = count('"event_type":"mqtt_ml"')
    if want_scores and n_ml:
        key = re.compile(rb'"src_ip":"([^"]+)","src_port":(\d+),"dest_ip":"([^"]+)","dest_port":(\d+)')
        sc = re.compile(rb'"mqtt_ml":\{"score":([^,]+),')
        ix = re.compile(rb'"direction":"(\w+)","msg_index":(\d+)')
        rows = []
        with open(eve, "rb") as f:
            for line in f:
                if b'"event_type":"mqtt_ml"' not in line:
                    continue
                k, s, i = key.search(line), sc.search(line), ix.search(line)
                score = s.group(1).decode() if s else "-"
                rows.append(b" ".join(k.groups()).decode() + f" {i.group(2).decode()} {i.group(1).decode()}\t{score}")
        rows.sort()
        with open(os.path.join(work, f"scores-{cfg}.tsv"), "w") as f:
            f.write("\n".join(rows) + "\n")
    print("\t".join(str(x) for x in (
        cfg, rnd, f"{wall:.3f}", load, rss, stats.get("mqtt_ml.scored", 0),
        stats.get("mqtt_ml.scoring_ns", 0), workers, n_mqtt, n_ml, stats.get("decoder.pkts", 0), f"{cpu:.2f}")))


if __name__ == "__main__":
    main()
