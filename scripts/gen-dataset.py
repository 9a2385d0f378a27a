#!/usr/bin/env python3
"""Generates labelled MQTT captures for training and evaluating mqtt-ml's model.

One benign class (a smart home) and five attack classes modelled on MQTTset (flood, slowite,
bruteforce, malformed, malaria), each captured on its own from a private mosquitto broker on
127.0.0.1, with one label row per TCP connection. See docs/dataset.md.

Usage:
  scripts/gen-dataset.py --out DIR [--scale small|default] [--seed N]
                         [--classes benign,flood,slowite,bruteforce,malformed,malaria]
                         [--runs a,b] [--port P] [--prefix STR] [--no-background]
  scripts/gen-dataset.py --check DIR     # re-verify the labels and captures of an earlier run

Writes DIR/<prefix><class>-<run>.pcap, DIR/<prefix><class>-<run>.labels.csv and
DIR/<prefix>manifest.json. Needs root (or CAP_NET_RAW) for tcpdump on lo, mosquitto,
mosquitto_passwd, tcpdump and tshark. The benign clients use paho-mqtt: when this python lacks it,
the script installs training/requirements-gen.txt into $MQTT_ML_CACHE/venv (default
~/.cache/mqtt-ml/venv) and re-runs itself with that venv's python.
"""

import argparse
import concurrent.futures
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLASSES = ["benign", "flood", "slowite", "bruteforce", "malformed", "malaria"]


# Parameters per scale. Times are seconds; every scenario is also cut off by a hard deadline.
SCALES = {
    "small": {
        "benign": {"duration": 3.5, "tscale": 0.35, "reconnect_p": 0.05, "phone_visits": 2},
        "background": {"duration": 0, "tscale": 1.0, "reconnect_p": 0.0, "phone_visits": 0},
        "flood": {"count": 1500, "secs": 3, "qos1_share": 0.1, "payload": (8, 40), "topics": 3},
        "slowite": {"count": 100, "secs": 2.5, "open_secs": 1.2, "open_pause": 0.05,
                    "styles": [4, 3, 2, 1], "v5_share": 0.1, "ping_every": (1.0, 2.0),
                    "byte_every": (0.5, 1.5)},
        "bruteforce": {"count": 80, "secs": 8, "users": ["admin", "mqtt", "homeassistant"],
                       "pause": (0.002, 0.01), "final_success": True},
        "malformed": {"count": 60, "secs": 8, "linger": 0.15, "pause": (0.0, 0.02), "workers": 3},
        "malaria": {"clients": 40, "secs": 8, "burst": (3, 6), "qos1_share": 0.5, "topics": 40,
                    "payload": (100, 400), "workers": 4, "pause": 0.0},
    },
    "default": {
        "benign": {"duration": 24, "tscale": 1.0, "reconnect_p": 0.03, "phone_visits": 4},
        "background": {"duration": 0, "tscale": 1.0, "reconnect_p": 0.0, "phone_visits": 0},
        "flood": {"count": 30000, "secs": 5, "qos1_share": 0.1, "payload": (8, 120),
                  "topics": 5},
        "slowite": {"count": 300, "secs": 12, "open_secs": 4, "open_pause": 0.05,
                    "styles": [4, 3, 2, 1], "v5_share": 0.1, "ping_every": (2.0, 5.0),
                    "byte_every": (1.0, 3.0)},
        "bruteforce": {"count": 600, "secs": 12,
                       "users": ["admin", "mqtt", "homeassistant", "root", "user"],
                       "pause": (0.0, 0.01), "final_success": True},
        "malformed": {"count": 400, "secs": 12, "linger": 0.1, "pause": (0.0, 0.01),
                      "workers": 4},
        "malaria": {"clients": 400, "secs": 12, "burst": (5, 15), "qos1_share": 0.5,
                    "topics": 200, "payload": (200, 1500), "workers": 8, "pause": 0.0},
    },
}
# Hard limit per capture (scenario only), whatever the parameters say.
DEADLINE = {"small": 25, "default": 45}


def run_seed(seed, cls, run):
    h = hashlib.sha256(f"mqtt-ml/{seed}/{cls}/{run}".encode()).hexdigest()
    return int(h[:12], 16)


def capture_one(args, ws, cls, run, seed):
    """Run one class once: fresh broker, capture, scenario; returns (tmp pcap, records, info)."""
    from gen_dataset import attacks, benign, infra
    name = f"{cls}-{run}"
    d = ws.sub(name)
    rng = random.Random(seed)
    passwords = benign.make_passwords(random.Random(rng.randrange(2**32)))
    scen_rng = random.Random(rng.randrange(2**32))
    bg_rng = random.Random(rng.randrange(2**32))
    params = SCALES[args.scale][cls]
    conns = infra.ConnLog()
    broker = infra.Broker(d, args.port, passwords, anonymous=(cls != "bruteforce"))
    pcap = os.path.join(d, f"{name}.pcap")
    cap = infra.Capture(d, args.port, pcap)
    info = {}
    t_start = time.monotonic()
    broker.start()
    try:
        cap.start()
        try:
            deadline = time.monotonic() + DEADLINE[args.scale]
            ctx = infra.Ctx(infra.HOST, args.port, conns, deadline, passwords)
            benign.errors.clear()
            if cls == "benign":
                ctx.soft_end = time.monotonic() + params["duration"] + 0.5
                benign.run(ctx, scen_rng, params)()
            else:
                bg_wait = bctx = None
                if args.background:
                    bctx = infra.Ctx(infra.HOST, args.port, conns, deadline, passwords)
                    bg_wait = benign.run(bctx, bg_rng, SCALES[args.scale]["background"],
                                         background=True)
                    time.sleep(0.25)
                try:
                    if cls == "bruteforce":
                        info = attacks.bruteforce(ctx, scen_rng, params, "dashboard",
                                                  passwords["dashboard"])
                    else:
                        info = getattr(attacks, cls)(ctx, scen_rng, params)
                finally:
                    if bctx is not None:
                        time.sleep(0.25)
                        bctx.stop.set()
                        bg_wait()
            if benign.errors:
                raise infra.GenError(f"{name}: benign client failed: {benign.errors[0]}")
            if not broker.alive():
                raise infra.GenError(f"{name}: the broker died:\n{broker.tail()}")
        finally:
            info["dropped_by_kernel"] = cap.stop()
    finally:
        broker.stop()
    info["wall_seconds"] = round(time.monotonic() - t_start, 2)
    return pcap, conns.snapshot(), info


def process(args, cls, run, seed, pcap, records, info):
    """Label the streams, check them, install the files; returns the manifest entry.

    Runs in a helper thread while the next class is captured (tshark takes a second or more)."""
    from gen_dataset import check, infra
    name = f"{args.prefix}{cls}-{run}"
    streams = check.analyze(pcap, args.port)
    _ANALYSES[infra.sha256(pcap)] = streams
    rows, errors = check.label_streams(streams, records)
    if errors:
        raise infra.GenError(f"{name}: labelling failed: " + "; ".join(errors[:5]))
    out_pcap = os.path.join(args.out, f"{name}.pcap")
    out_labels = os.path.join(args.out, f"{name}.labels.csv")
    shutil.copyfile(pcap, out_pcap)
    os.chmod(out_pcap, 0o644)
    check.write_labels(out_labels, rows)
    summary = check.summarize(streams)
    per_class = check.per_class_summaries(streams, rows)
    for s in per_class.values():
        s.pop("frames", None)
    checks = check.class_checks(cls, summary, per_class)
    checks.append({"check": "capture complete",
                   "ok": info.get("dropped_by_kernel") == 0 and summary["streams_open_at_end"] == 0,
                   "detail": f"tcpdump: {info.get('dropped_by_kernel')} packets dropped by kernel; "
                             f"{summary['streams_open_at_end']} connections without FIN/RST from "
                             f"both sides"})
    return {
        "class": cls, "run": run, "seed": seed,
        "pcap": os.path.basename(out_pcap), "pcap_sha256": infra.sha256(out_pcap),
        "labels": os.path.basename(out_labels), "labels_sha256": infra.sha256(out_labels),
        "file_bytes": os.path.getsize(out_pcap),
        "connections": summary["connections"], "messages": summary["messages"],
        "frames": summary["frames"], "bytes_on_wire": summary["bytes"],
        "seconds": summary["seconds"], "msgtypes": summary["msgtypes"],
        "labels_per_class": {k: v["connections"] for k, v in sorted(per_class.items())},
        "per_class": per_class, "scenario": info, "checks": checks,
    }


_ANALYSES = {}   # sha256 of a capture -> tshark's view of it (the capture cannot change)


def final_check(out_dir, entries, port):
    """Re-read every written pcap and label file: each TCP stream has exactly one label row.

    tshark's view of a capture is reused when the file's sha256 is the one it was made from."""
    from gen_dataset import check, infra
    problems = []
    for e in entries:
        path = os.path.join(out_dir, e["pcap"])
        streams = _ANALYSES.get(infra.sha256(path)) or check.analyze(path, port)
        rows = check.read_labels(os.path.join(out_dir, e["labels"]))
        errs = check.verify_labels(streams, rows)
        if infra.sha256(os.path.join(out_dir, e["pcap"])) != e["pcap_sha256"]:
            errs.append("pcap changed after it was written")
        e["label_check"] = "ok" if not errs else errs[:10]
        problems += [f"{e['pcap']}: {x}" for x in errs[:5]]
        for c in e["checks"]:
            if not c["ok"]:
                problems.append(f"{e['pcap']}: check '{c['check']}' failed: {c['detail']}")
    return problems


def print_table(entries):
    print(f"{'capture':<24} {'conns':>6} {'msgs':>7} {'bytes':>9} {'secs':>6}  labels")
    for e in entries:
        lab = ",".join(f"{k}={v}" for k, v in e["labels_per_class"].items())
        print(f"{e['pcap'][:-5]:<24} {e['connections']:>6} {e['messages']:>7} "
              f"{e['file_bytes']:>9} {e['seconds']:>6.1f}  {lab}")


def cmd_check(args):
    from gen_dataset import check, infra
    mpath = args.check
    if os.path.isdir(mpath):
        cands = sorted(f for f in os.listdir(mpath) if f.endswith("manifest.json"))
        if not cands:
            sys.exit(f"gen-dataset: no manifest.json in {mpath}")
        mpath = os.path.join(mpath, cands[0])
    with open(mpath) as f:
        man = json.load(f)
    out_dir = os.path.dirname(os.path.abspath(mpath))
    bad = 0
    for e in man["captures"]:
        streams = check.analyze(os.path.join(out_dir, e["pcap"]), man["port"])
        errs = check.verify_labels(streams, check.read_labels(os.path.join(out_dir, e["labels"])))
        if infra.sha256(os.path.join(out_dir, e["pcap"])) != e["pcap_sha256"]:
            errs.append("sha256 differs from the manifest")
        print(f"{e['pcap']}: {len(streams)} streams, " + ("ok" if not errs else "; ".join(errs[:3])))
        bad += bool(errs)
    sys.exit(1 if bad else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output directory (created if needed)")
    ap.add_argument("--scale", choices=sorted(SCALES), default="default")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--classes", default=",".join(CLASSES),
                    help="comma-separated subset of " + ",".join(CLASSES))
    ap.add_argument("--runs", default="a,b", help="run names, each with its own seed (a,b)")
    ap.add_argument("--port", type=int, default=1883, help="broker port on 127.0.0.1 (1883)")
    ap.add_argument("--prefix", default="", help="prefix of every output file name")
    ap.add_argument("--no-background", dest="background", action="store_false",
                    help="no benign clients alongside the attacks")
    ap.add_argument("--check", metavar="DIR", help="only verify an earlier output directory")
    args = ap.parse_args()
    if args.check:
        return cmd_check(args)
    if not args.out:
        ap.error("--out is required")
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    for c in classes:
        if c not in CLASSES:
            ap.error(f"unknown class {c!r}; known: {','.join(CLASSES)}")
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    if not runs or len(set(runs)) != len(runs) or not all(r.isalnum() for r in runs):
        ap.error("--runs: distinct alphanumeric names, e.g. a,b")
    if not 1 <= args.port <= 65535:
        ap.error("--port out of range")

    for tool in ("mosquitto", "mosquitto_passwd", "tcpdump", "tshark"):
        if not shutil.which(tool):
            sys.exit(f"gen-dataset: {tool} not found "
                     f"(apt-get install -y mosquitto mosquitto-clients tcpdump tshark)")
    sys.path.insert(0, HERE)
    from gen_dataset.venv import ensure_modules
    ensure_modules(__file__, ["paho.mqtt"], "gen-dataset")
    from gen_dataset import infra

    # Ctrl-C, SIGTERM and SIGHUP all end the run through the finally below (also when started
    # in the background, where SIGINT would otherwise be ignored).
    def on_signal(signum, _frame):
        if infra.signal_arrived(signum):
            return          # raised as soon as the process being started is on record
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    os.makedirs(args.out, exist_ok=True)
    ws = infra.Workspace()
    entries = []
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    pending = []
    t0 = time.time()
    rc = 0
    try:
        for cls in classes:
            for run in runs:
                seed = run_seed(args.seed, cls, run)
                infra.log(f"{cls}-{run}: capturing (seed {seed})")
                pcap, records, info = capture_one(args, ws, cls, run, seed)
                pending.append(pool.submit(process, args, cls, run, seed, pcap, records, info))
        for fut in pending:
            e = fut.result()
            entries.append(e)
            failed = [c["check"] for c in e["checks"] if not c["ok"]]
            infra.log(f"{e['pcap']}: {e['connections']} connections, {e['messages']} MQTT "
                      f"messages, {e['file_bytes']} bytes, {e['seconds']:.1f} s"
                      + (f"; FAILED: {', '.join(failed)}" if failed else ""))
        problems = final_check(args.out, entries, args.port)
        manifest = {
            "generator": "scripts/gen-dataset.py",
            "scale": args.scale, "seed": args.seed, "runs": runs, "classes": classes,
            "port": args.port, "background": args.background,
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
            "generation_seconds": round(time.time() - t0, 1),
            "versions": {
                "mosquitto": infra.tool_version(["mosquitto", "-h"], "version"),
                "python": platform.python_version(),
                "paho-mqtt": __import__("paho.mqtt").mqtt.__version__,
                "tshark": infra.tool_version(["tshark", "--version"], "TShark"),
                "tcpdump": infra.tool_version(["tcpdump", "--version"], "tcpdump"),
            },
            "parameters": {c: SCALES[args.scale][c] for c in classes},
            "label_columns": ["src_ip", "src_port", "dst_ip", "dst_port", "proto", "class",
                              "first_ts", "last_ts"],
            "captures": entries,
            "problems": problems,
        }
        with open(os.path.join(args.out, f"{args.prefix}manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=False)
            f.write("\n")
        print_table(entries)
        if problems:
            for p in problems:
                infra.log(f"problem: {p}")
            rc = 1
        else:
            infra.log(f"all labels verified; {len(entries)} captures in "
                      f"{time.time() - t0:.0f} s")
    except infra.GenError as e:
        infra.log(f"error: {e}")
        rc = 1
    except KeyboardInterrupt:
        infra.log("interrupted")
        rc = 130
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True)
        infra.stop_all()
        ws.cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main())
