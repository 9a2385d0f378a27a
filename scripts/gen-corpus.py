#!/usr/bin/env python3
"""Generates a labelled MQTT corpus from several network environments (see docs/corpus.md).

Each environment is its own set of network namespaces (a bridge, one namespace and address per
host, NAT routers), with its own broker (mosquitto or aedes), client stacks (paho-mqtt, gmqtt,
mqtt.js, mosquitto_pub/sub) and address plan. Per environment and class one capture is taken on
the bridge, with the environment's benign devices running throughout and the attack (if any) in
the middle; every TCP connection gets one label row, checked against tshark.

Usage (as root):
  scripts/gen-corpus.py --out DIR [--envs home,factory,fleet-nat,campus] [--seconds 60]
                        [--seed 1] [--run a] [--jobs 2]
                        [--classes benign,bruteforce,flood,malaria,malformed,slowite]

Writes DIR/<env>/<class>-<run>.pcap, DIR/<env>/<class>-<run>.labels.csv, DIR/<env>/manifest.json
(manifest-<run>.json for runs other than "a") and DIR/manifest.json. A run other than "a" draws its
own attack parameters (each rate, count, size and pause scaled by 0.5-2x); use it with another
--seed for captures that nothing was tuned on. Needs ip (iproute2), nft, tcpdump, tshark,
mosquitto, mosquitto_pub/sub, node; paho-mqtt and gmqtt (training/requirements-gen.txt, installed
into $MQTT_ML_CACHE/venv on first use) and aedes + mqtt.js (scripts/setup-corpus.sh, likewise).
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from gen_corpus import envs  # noqa: E402  (pure: needs nothing installed)


def ensure_node_stacks():
    r = subprocess.run([os.path.join(HERE, "setup-corpus.sh")], capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        sys.exit(f"gen-corpus: scripts/setup-corpus.sh failed:\n{r.stderr[-1500:]}")
    return r.stdout.strip().splitlines()[-1]


def run_children(args, env_names):
    """Several environments side by side, one child process each (at most --jobs at once)."""
    from gen_dataset import infra
    todo = list(env_names)
    running = {}
    failed = []
    argv0 = [sys.executable, os.path.abspath(__file__), "--out", args.out, "--seconds",
             str(args.seconds), "--seed", str(args.seed), "--run", args.run,
             "--classes", ",".join(args.classes),
             "--jobs", "1", "--no-top-manifest"]
    try:
        while todo or running:
            while todo and len(running) < args.jobs:
                name = todo.pop(0)
                running[name] = infra.start_proc(argv0 + ["--envs", name],
                                                 stdin=subprocess.DEVNULL)
            time.sleep(0.5)
            for name, p in list(running.items()):
                if p.poll() is not None:
                    infra.stop_proc(p)
                    del running[name]
                    if p.returncode != 0:
                        failed.append(name)
    finally:
        # Each child deletes its own namespaces on SIGTERM; give it the time to.
        for p in running.values():
            infra.stop_proc(p, grace=60.0)
    return failed


def write_top(args, env_names, t0):
    out = []
    for name in env_names:
        mname = "manifest.json" if args.run == "a" else f"manifest-{args.run}.json"
        path = os.path.join(args.out, name, mname)
        try:
            with open(path) as f:
                man = json.load(f)
        except (OSError, ValueError):
            out.append({"name": name, "manifest": None, "status": "missing"})
            continue
        out.append({
            "name": name, "manifest": f"{name}/{mname}", "about": man["about"],
            "broker": man["broker"], "client_stacks": man["client_stacks"],
            "network": man["address_plan"]["network"],
            "captures": {e["class"]: {"pcap": f"{name}/{e['pcap']}",
                                      "labels": f"{name}/{e['labels']}",
                                      "connections": e["connections_per_class"],
                                      "messages": e["messages_per_class"],
                                      "dropped_by_kernel": e["dropped_by_kernel"],
                                      "label_check": e.get("label_check")}
                         for e in man["captures"]},
            "generation_seconds": man["generation_seconds"],
            "problems": man["problems"],
        })
    top = {"generator": "scripts/gen-corpus.py", "seed": args.seed, "run": args.run,
           "seconds": args.seconds,
           "classes": args.classes,
           "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
           "wall_seconds": round(time.time() - t0, 1), "environments": out}
    top_name = "manifest.json" if args.run == "a" else f"manifest-{args.run}.json"
    with open(os.path.join(args.out, top_name), "w") as f:
        json.dump(top, f, indent=1)
        f.write("\n")
    return top


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory (created if needed)")
    ap.add_argument("--envs", default=",".join(envs.ENVS),
                    help="comma-separated subset of " + ",".join(envs.ENVS))
    ap.add_argument("--seconds", type=int, default=60, help="length of each capture (60)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--run", default="a",
                    help='run name in file names (a); other runs vary the attack parameters')
    ap.add_argument("--classes", default=",".join(envs.CLASSES),
                    help="comma-separated subset of " + ",".join(envs.CLASSES))
    ap.add_argument("--jobs", type=int, default=2,
                    help="environments generated side by side (2)")
    ap.add_argument("--no-top-manifest", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    env_names = [e.strip() for e in args.envs.split(",") if e.strip()]
    for e in env_names:
        if e not in envs.ENVS:
            ap.error(f"unknown environment {e!r}; known: {','.join(envs.ENVS)}")
    args.classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    for c in args.classes:
        if c not in envs.CLASSES:
            ap.error(f"unknown class {c!r}; known: {','.join(envs.CLASSES)}")
    if not 20 <= args.seconds <= 3600:
        ap.error("--seconds: 20 to 3600")
    if args.jobs < 1:
        ap.error("--jobs: at least 1")
    if os.geteuid() != 0:
        sys.exit("gen-corpus: must run as root (network namespaces, tcpdump)")
    for tool in ("ip", "nft", "tcpdump", "tshark", "mosquitto", "mosquitto_pub",
                 "mosquitto_sub", "node", "npm"):
        if not shutil.which(tool):
            sys.exit(f"gen-corpus: {tool} not found (scripts/setup.sh installs what is needed)")
    from gen_dataset.venv import ensure_modules
    ensure_modules(__file__, ["paho.mqtt", "gmqtt"], "gen-corpus")
    modules = ensure_node_stacks()
    from gen_corpus import run, stacks
    from gen_dataset import infra
    infra.LOG_NAME = "gen-corpus"

    def on_signal(signum, _frame):
        if infra.signal_arrived(signum):
            return
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    rc = 0
    try:
        if len(env_names) > 1 and args.jobs > 1:
            failed = run_children(args, env_names)
            rc = 1 if failed else 0
        else:
            versions = stacks.versions(modules)
            for name in env_names:
                prefix = f"mqc{secrets.token_hex(3)}-"
                _man, problems = run.run_env(envs.ENVS[name], args.out, args.seconds, args.seed,
                                             args.classes, prefix, modules, versions,
                                             args.run)
                for p in problems:
                    infra.log(f"problem: {p}")
                rc |= 1 if problems else 0
        if not args.no_top_manifest:
            top = write_top(args, env_names, t0)
            print(f"{'environment/capture':<28} {'conns':>16} {'msgs':>18}  drops")
            for e in top["environments"]:
                for cls, c in (e.get("captures") or {}).items():
                    conns = "/".join(str(v) for v in c["connections"].values())
                    msgs = "/".join(str(v) for v in c["messages"].values())
                    print(f"{e['name'] + '/' + cls:<28} {conns:>16} {msgs:>18}  "
                          f"{c['dropped_by_kernel']}  labels {c['label_check']}")
            infra.log(f"{len(env_names)} environments in {time.time() - t0:.0f} s"
                      + ("" if rc == 0 else "; there were problems (see the manifests)"))
    except infra.GenError as e:
        infra.log(f"error: {e}")
        rc = 1
    except KeyboardInterrupt:
        infra.log("interrupted")
        rc = 130
    finally:
        infra.stop_all()
    return rc


if __name__ == "__main__":
    sys.exit(main())
