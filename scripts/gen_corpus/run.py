"""One environment of the corpus: its namespaces, then one capture per class, labelled and checked.
"""

import concurrent.futures
import hashlib
import json
import os
import random
import shutil
import threading
import time

from gen_dataset import attacks, check, infra

from . import envs, fuzz, netns, stacks

BRUTE_USERS = ["admin", "mqtt", "root", "user", "operator", "iot", "guest"]
SLOWITE_DEFAULTS = {"open_pause": 0.05, "styles": [4, 3, 2, 1], "v5_share": 0.1,
                    "ping_every": (2.0, 5.0), "byte_every": (1.0, 3.0)}


def log(env, msg):
    infra.log(f"{env}: {msg}")


def run_seed(seed, env, cls, what=""):
    h = hashlib.sha256(f"mqtt-ml-corpus/{seed}/{env}/{cls}/{what}".encode()).hexdigest()
    return int(h[:12], 16)


def make_passwords(env, rng):
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    users = sorted({d["user"] for d in env["devices"] if d.get("user")})
    return {u: "".join(rng.choice(alphabet) for _ in range(14)) for u in users}


class Topology:
    """The namespaces of one environment and which address is which."""

    def __init__(self, env, prefix):
        self.env = env
        self.plan = envs.address_plan(env)
        self.net = netns.Net(prefix)
        self.plen = int(self.plan["network"].split("/")[1])
        self.ns = {}            # device name -> namespace
        self.attackers = []     # namespaces, in address order
        self.broker_ns = None
        self.benign_ips = {}    # address seen on the bridge -> "benign"
        self.behind_nat = set()

    def build(self):
        p = self.plan
        self.net.check_prefix()
        self.net.make_bridge()
        self.broker_ns = self.net.add_host("brk", p["broker"], self.plen)
        routers = {}
        for name, (wan, lan) in p["routers"].items():
            ns, gw = self.net.add_router(f"r-{name}", wan, self.plen, lan)
            routers[name] = (ns, gw, int(lan.split("/")[1]))
            self.benign_ips[wan] = "benign"
        for d in envs.devices(self.env):
            if d.get("nat"):
                rns, gw, lplen = routers[d["nat"]]
                self.ns[d["name"]] = self.net.add_lan_host(f"d-{d['name']}", rns, gw,
                                                           p["lan"][d["name"]], lplen)
                self.behind_nat.add(d["name"])
            else:
                ip = p["hosts"][d["name"]]
                self.ns[d["name"]] = self.net.add_host(f"d-{d['name']}", ip, self.plen)
                self.benign_ips[ip] = "benign"
        for i, ip in enumerate(p["attackers"]):
            self.attackers.append(self.net.add_host(f"a{i}", ip, self.plen))


def _attack_threads(cls, spec, topo, actx, rng, passwords, end, info):
    """Start the attack's threads, each in an attacker's namespace; returns them."""
    threads = []
    errors = info.setdefault("attack_errors", [])
    results = info.setdefault("parts", [])
    lock = threading.Lock()

    def run_in(ns_list, fn, *args):
        def main():
            try:
                if ns_list:
                    netns.enter(ns_list[0])
                r = fn(*args)
                with lock:
                    results.append(r)
            except Exception as e:
                with lock:
                    errors.append(f"{type(e).__name__}: {e}")
        t = threading.Thread(target=main, daemon=True)
        t.start()
        threads.append(t)

    secs_left = lambda: max(1.0, end - time.monotonic())  # noqa: E731
    # On a broker that refuses anonymous clients the attacker uses a device's credentials.
    users = [d["user"] for d in envs.devices(topo.env)
             if d.get("user") and d["role"] != "expired"]
    stolen = {}
    if not topo.env["anonymous"] and users:
        stolen = {"username": users[0], "password": passwords[users[0]]}
    info["credentials"] = stolen.get("username", "anonymous")
    next_addr = 0
    if cls in ("malaria", "malformed"):
        n = spec["addrs"]
        pool = topo.attackers[:n]
        actx.thread_init = lambda i: netns.enter(pool[i % n])
        p = dict(spec, workers=n, secs=secs_left(), **stolen)
        if cls == "malaria":
            run_in([], attacks.malaria, actx, random.Random(rng.randrange(2**32)), p)
        else:
            creds = (stolen["username"], stolen["password"]) if stolen else None
            run_in([], attacks.malformed, actx, random.Random(rng.randrange(2**32)), p,
                   fuzz.cases(creds))
        return threads
    for part in spec:
        for _ in range(part["addrs"]):
            ns = [topo.attackers[next_addr % len(topo.attackers)]]
            next_addr += 1
            r = random.Random(rng.randrange(2**32))
            if cls == "bruteforce":
                real = users[0] if users else "dispatch"
                p = dict(part, users=BRUTE_USERS, secs=secs_left())
                run_in(ns, attacks.bruteforce, actx, r, p, real, passwords.get(real, "x"))
            elif cls == "flood":
                p = dict(part, secs=min(part["secs"], secs_left()), **stolen)
                run_in(ns, attacks.flood, actx, r, p)
            elif cls == "slowite":
                p = dict(SLOWITE_DEFAULTS, **part)
                if topo.env["broker"] == "aedes":
                    p["v5_share"] = 0.0        # aedes speaks 3.1/3.1.1 only
                p.update(secs=secs_left(), open_secs=min(6.0, secs_left() / 3), **stolen)
                run_in(ns, attacks.slowite, actx, r, p)
    return threads


def capture(env, topo, cls, seconds, seed, ws, modules, run_name="a"):
    """One capture of one class (benign devices throughout, the attack in the middle).
    Runs other than "a" draw their own attack parameters (envs.vary_attack)."""
    name = f"{cls}-{run_name}"
    d = ws.sub(f"{env['name']}-{name}")
    rng = random.Random(run_seed(seed, env["name"], cls))
    attack = env["attacks"].get(cls)
    info_vary = None
    if attack is not None and run_name != "a":
        attack = envs.vary_attack(attack, random.Random(run_seed(seed, env["name"], cls, "vary")))
        info_vary = attack
    passwords = make_passwords(env, random.Random(rng.randrange(2**32)))
    broker = stacks.make_broker(env, d, passwords, topo.plan["broker"], topo.broker_ns, modules)
    pcap = os.path.join(d, f"{name}.pcap")
    cap = infra.Capture(d, envs.PORT, pcap, iface="br0", host=None, netns=topo.net.bridge)
    conns = infra.ConnLog()
    info = {"restarts": 0}
    if info_vary is not None:
        info["attack_parameters"] = info_vary
    devices = []
    broker.start()
    try:
        cap.start()
        try:
            t0 = time.monotonic()
            ctx = infra.Ctx(topo.plan["broker"], envs.PORT, conns, t0 + seconds + 20, passwords)
            ctx.soft_end = t0 + max(5.0, seconds - 2.0)
            for spec in envs.devices(env):
                rt = stacks.Runtime(topo.plan["broker"], ctx,
                                    stacks.NullLog() if spec["name"] in topo.behind_nat
                                    else conns, passwords, d, modules,
                                    run_seed(seed, env["name"], cls, spec["name"]))
                dv = stacks.Device(spec, topo.ns[spec["name"]], rt)
                dv.start()
                devices.append(dv)
            threads = []
            if cls == "benign" and env.get("restart"):
                ctx.stop.wait(max(0.0, t0 + 0.45 * seconds - time.monotonic()))
                broker.stop()
                ctx.stop.wait(1.0)
                broker.start()          # every client reconnects at once
                info["restarts"] += 1
            elif cls != "benign":
                ctx.stop.wait(min(3.0, seconds / 6))
                end = ctx.soft_end - 1.5
                actx = infra.Ctx(topo.plan["broker"], envs.PORT, conns, ctx.soft_end + 5,
                                 passwords)
                actx.soft_end = end
                threads = _attack_threads(cls, attack, topo, actx,
                                          random.Random(rng.randrange(2**32)), passwords, end,
                                          info)
            for t in threads:
                t.join(max(0.1, ctx.soft_end + 8 - time.monotonic()))
            for dv in devices:
                dv.wait(ctx.soft_end + 12)
            if not broker.alive():
                raise infra.GenError(f"{env['name']}/{name}: the broker died:\n{broker.tail()}")
        finally:
            for dv in devices:
                if dv.proc is not None:
                    infra.stop_proc(dv.proc, grace=2.0)
            info["dropped_by_kernel"] = cap.stop()
    finally:
        broker.stop()
    info["devices"] = {dv.spec["name"]: {"stack": dv.spec["stack"], "error": dv.error}
                       for dv in devices}
    host_labels = dict(topo.benign_ips)
    if cls != "benign":
        for ip in topo.plan["attackers"]:
            host_labels[ip] = cls
    return pcap, conns.snapshot(), host_labels, info


def corpus_checks(env, cls, summary, per_class, info):
    out = []

    def chk(name, ok, detail):
        out.append({"check": name, "ok": bool(ok), "detail": detail})

    chk("no packets dropped", info.get("dropped_by_kernel") == 0,
        f"tcpdump: {info.get('dropped_by_kernel')} packets dropped by kernel")
    chk("every connection closed", summary["streams_open_at_end"] == 0,
        f"{summary['streams_open_at_end']} connections without FIN/RST from both sides")
    bad = {k: v["error"] for k, v in info["devices"].items() if v["error"]}
    chk("every benign device ran", not bad, json.dumps(bad)[:300] if bad else "all ran")
    b = per_class.get("benign", {})
    chk("benign traffic present", b.get("connections", 0) >= 3,
        f"{b.get('connections', 0)} benign connections")
    # A 3.1.1-only broker refuses an MQTT 5 CONNECT with a 3.1.1 CONNACK (20 02 00 01), which
    # tshark decodes as 5.0 and calls malformed: legal, and expected once per fallback device.
    fallbacks = sum(1 for d in envs.devices(env) if d.get("fallback")) \
        if env["broker"] == "aedes" else 0
    # A retransmitted segment overlapping reassembled data also makes tshark say "malformed".
    retrans = b.get("streams_malformed_by_retransmission", 0)
    chk("benign traffic is well-formed", b.get("streams_malformed", 0) - retrans <= fallbacks,
        f"{b.get('streams_malformed', 0)} benign connections with a malformed frame, "
        f"{retrans} of them only at TCP retransmissions ({fallbacks} refused MQTT 5 CONNECTs "
        f"expected)")
    if cls == "benign":
        return out
    mine = per_class.get(cls, {})
    t = {int(k): v for k, v in mine.get("msgtypes", {}).items()}
    n = mine.get("connections", 0)
    chk("attack ran without errors", not info.get("attack_errors"),
        "; ".join(info.get("attack_errors", [])[:3]) or "ok")
    codes = mine.get("connack_codes", {})
    if cls in ("flood", "malaria", "slowite"):
        chk("attack logged in (CONNACK 0)", set(codes) <= {"0"} and codes.get("0", 0) >= 1,
            f"connack {codes} ({info.get('credentials')})")
    if cls == "bruteforce":
        codes = mine.get("connack_codes", {})
        refused = codes.get("4", 0) + codes.get("5", 0)
        chk("logins refused (CONNACK 4/5)", n >= 20 and refused >= 0.9 * (n - 1),
            f"connack {codes} in {n} connections")
    elif cls == "flood":
        chk("hundreds of publishes", t.get(3, 0) >= 100, f"{t.get(3, 0)} PUBLISH in {n} conns")
    elif cls == "malaria":
        chk("many connections and topics", n >= 30 and mine.get("distinct_topics", 0) >= 30,
            f"{n} connections, {mine.get('distinct_topics')} topics, qos "
            f"{mine.get('publish_qos')}")
    elif cls == "slowite":
        chk("many held connections", n >= 50, f"{n} connections, keep-alives "
            f"{mine.get('keepalive_65535')} at 65535")
    elif cls == "malformed":
        flagged = mine.get("streams_flagged", 0)
        chk("most connections malformed/invalid to tshark", n >= 50 and flagged >= 0.7 * n,
            f"{flagged} of {n} flagged ({mine.get('streams_malformed')} with a Malformed frame, "
            f"{mine.get('streams_expert_warn')} with an expert warning; "
            f"{mine.get('anomaly_streams')})")
    return out


def process(env, cls, out_dir, pcap, records, host_labels, info, analyses, run_name="a"):
    name = f"{cls}-{run_name}"
    streams = check.analyze(pcap, envs.PORT)
    rows, errors = check.label_streams(streams, records, host_labels=host_labels)
    if errors:
        raise infra.GenError(f"{env['name']}/{name}: labelling failed: " + "; ".join(errors[:5]))
    out_pcap = os.path.join(out_dir, f"{name}.pcap")
    out_labels = os.path.join(out_dir, f"{name}.labels.csv")
    shutil.copyfile(pcap, out_pcap)
    os.chmod(out_pcap, 0o644)
    check.write_labels(out_labels, rows)
    analyses[infra.sha256(out_pcap)] = streams
    summary = check.summarize(streams)
    per_class = check.per_class_summaries(streams, rows)
    for s in per_class.values():
        s.pop("frames", None)
    checks = corpus_checks(env, cls, summary, per_class, info)
    return {
        "class": cls, "run": run_name,
        "pcap": os.path.basename(out_pcap), "pcap_sha256": infra.sha256(out_pcap),
        "labels": os.path.basename(out_labels), "labels_sha256": infra.sha256(out_labels),
        "file_bytes": os.path.getsize(out_pcap),
        "connections": summary["connections"], "messages": summary["messages"],
        "frames": summary["frames"], "bytes_on_wire": summary["bytes"],
        "seconds": summary["seconds"], "msgtypes": summary["msgtypes"],
        "connections_per_class": {k: v["connections"] for k, v in sorted(per_class.items())},
        "messages_per_class": {k: v["messages"] for k, v in sorted(per_class.items())},
        "dropped_by_kernel": info.get("dropped_by_kernel"),
        "per_class": per_class, "scenario": info, "checks": checks,
        "recorded_connections": sum(1 for r in records if r["port"] is not None),
    }


def run_env(env, out_root, seconds, seed, classes, prefix, modules, versions, run_name="a"):
    """Builds the environment's namespaces, captures every class, writes its manifest.
    Returns (manifest, problems). The namespaces are gone when it returns or raises."""
    out_dir = os.path.join(out_root, env["name"])
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.time()
    topo = Topology(env, prefix)
    ws = infra.Workspace()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    pending, entries, analyses = [], [], {}
    try:
        log(env["name"], f"building namespaces (prefix {prefix})")
        topo.build()
        log(env["name"], f"{len(topo.net.made)} namespaces, broker {topo.plan['broker']} "
                         f"({env['broker']})")
        for cls in classes:
            log(env["name"], f"{cls}: capturing {seconds} s")
            pcap, records, host_labels, info = capture(env, topo, cls, seconds, seed, ws, modules,
                                                      run_name)
            pending.append(pool.submit(process, env, cls, out_dir, pcap, records, host_labels,
                                       info, analyses, run_name))
        for fut in pending:
            e = fut.result()
            entries.append(e)
            failed = [c["check"] for c in e["checks"] if not c["ok"]]
            log(env["name"], f"{e['pcap']}: {e['connections_per_class']} connections, "
                             f"{e['messages_per_class']} messages, drops {e['dropped_by_kernel']}"
                             + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True)
        infra.stop_all()
        errs = topo.net.cleanup()
        ws.cleanup()
        if errs:
            log(env["name"], "could not delete: " + "; ".join(errs))
    problems = []
    for e in entries:          # re-read what was written: every stream exactly one label row
        path = os.path.join(out_dir, e["pcap"])
        digest = infra.sha256(path)
        streams = analyses.get(digest) or check.analyze(path, envs.PORT)
        errs = check.verify_labels(streams, check.read_labels(os.path.join(out_dir, e["labels"])))
        if digest != e["pcap_sha256"]:
            errs.append("pcap changed after it was written")
        e["label_check"] = "ok" if not errs else errs[:10]
        problems += [f"{env['name']}/{e['pcap']}: {x}" for x in errs[:5]]
        problems += [f"{env['name']}/{e['pcap']}: check '{c['check']}' failed: {c['detail']}"
                     for c in e["checks"] if not c["ok"]]
    stack_names = sorted({d["stack"] for d in env["devices"]})
    manifest = {
        "generator": "scripts/gen-corpus.py",
        "environment": env["name"], "about": env["about"],
        "broker": {"name": env["broker"], "version": versions.get(env["broker"]),
                   "anonymous_allowed": env["anonymous"], "restart_in_benign": bool(
                       env.get("restart"))},
        "client_stacks": {s: versions.get({"paho": "paho-mqtt", "mqttjs": "mqtt.js"}.get(s, s))
                          for s in stack_names},
        "address_plan": topo.plan,
        "seed": seed, "run": run_name, "seconds": seconds, "classes": classes,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
        "generation_seconds": round(time.time() - t0, 1),
        "traits": sorted(envs.traits(env)), "keepalives": envs.keepalives(env),
        "devices": env["devices"], "attacks": env["attacks"],
        "link_delay": "none: this kernel has no netem (CONFIG_NET_SCH_NETEM unset)",
        "label_columns": check.LABEL_FIELDS,
        "versions": versions,
        "captures": entries,
        "problems": problems,
    }
    mname = "manifest.json" if run_name == "a" else f"manifest-{run_name}.json"
    with open(os.path.join(out_dir, mname), "w") as f:
        json.dump(manifest, f, indent=1, default=list)
        f.write("\n")
    return manifest, problems
