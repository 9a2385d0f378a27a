"""Leave-one-environment-out evaluation: detection on networks that training never saw.

An environment is one network with its own broker, client stacks and address plan: MQTTset's
testbed, the loopback smart home of scripts/gen-dataset.py, and each environment of
scripts/gen-corpus.py. For each environment E:

  - scaling and the autoencoder are fitted on the benign training connections of every OTHER
    environment, and the thresholds come from their benign validation connections, exactly as
    for the shipped model; nothing of E is seen, not even to pick a threshold;
  - Suricata runs with the plugin, that model, the default configuration and the shipped rules
    (mqtt-ml.rules and mqtt-ml-events.rules) over every capture of E;
  - what an analyst sees is counted per connection: a benign connection is a false alarm when any
    of its messages has `anomaly: true` in EVE or any rule alerts on it, and an attack connection
    is detected on the same condition. Per message: benign messages with `anomaly: true`.

The report shows every environment and the worst one; a pooled figure would flatter.
"""

import json
import shutil
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from . import config

RULE_FILES = ("suricata-rules/mqtt-ml.rules", "suricata-rules/mqtt-ml-events.rules")

CMD = r'''
set -e
. scripts/env.sh
exec suricata -c "$SURICATA_YAML" --set plugins.0="$1" \
  --set app-layer.protocols.mqtt-ml.model="$4" \
  --set autofp-scheduler=ippair \
  -S "$5" --runmode single -k none -r "$2" -l "$3"
'''

# The goals the report checks every environment against.
GOAL_BENIGN_CONNECTIONS = 0.01
GOAL_BENIGN_MESSAGES = 0.001
GOAL_RECALL = 0.99


def detect(plugin: Path, pcap: Path, model: Path, rules: Path, work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["bash", "-c", CMD, "suricata", str(plugin), str(pcap), str(work),
                        str(model), str(rules)], cwd=config.REPO, capture_output=True,
                       text=True, timeout=1800)
    eve = work / "eve.json"
    if p.returncode != 0 or not eve.exists():
        raise RuntimeError(f"suricata failed on {pcap} (exit {p.returncode}):\n"
                           f"{(p.stderr or p.stdout)[-2000:]}")
    return eve


def read_eve(eve: Path):
    """Per flow: its 4-tuple (src = the TCP client), first message time, message count,
    anomalous message count, and the sids that alerted on it."""
    flows = {}
    alerts = defaultdict(set)
    alert_flows = {}
    with open(eve, "rb") as f:
        for line in f:
            if b'"event_type":"mqtt_ml"' in line:
                d = json.loads(line)
                m = d["mqtt_ml"]
                fl = flows.setdefault(d["flow_id"], {
                    "key": (d["src_ip"], d["src_port"], d["dest_ip"], d["dest_port"]),
                    "first_ts": m["tcp"]["ts"], "last_ts": m["tcp"]["ts"], "messages": 0,
                    "anomalies": 0})
                fl["first_ts"] = min(fl["first_ts"], m["tcp"]["ts"])
                fl["last_ts"] = max(fl["last_ts"], m["tcp"]["ts"])
                fl["messages"] += 1
                fl["anomalies"] += int(bool(m.get("anomaly")))
                if m.get("anomaly") and "why" not in fl:
                    top = (m.get("top_features") or [{}])[0].get("name", "?")
                    fl["why"] = f"{m.get('msgtype_name', '?')}/{top}"
            elif b'"event_type":"alert"' in line:
                d = json.loads(line)
                alerts[d["flow_id"]].add(d["alert"]["signature_id"])
                # A flow can alert without any message record (an event on a connection that
                # never framed a message): it still counts.
                ts = d["timestamp"]
                alert_flows.setdefault(d["flow_id"], {
                    "key": (d["src_ip"], d["src_port"], d["dest_ip"], d["dest_port"]),
                    "ts": ts})
    for fid, sids in alerts.items():
        if fid not in flows:
            a = alert_flows[fid]
            flows[fid] = {"key": a["key"], "first_ts": None, "last_ts": None, "messages": 0,
                          "anomalies": 0}
        flows[fid]["sids"] = sorted(sids)
    return flows


def label_rows(cap, fl) -> list:
    """The generator's label rows of one flow (either orientation of its 4-tuple)."""
    src, sport, dst, dport = fl["key"]
    keys = {(src, sport, dst, dport), (dst, dport, src, sport)}
    rows = [r for r in cap.labels if (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"])
            in keys]
    if len(rows) > 1 and fl["first_ts"] is not None:
        rows = [r for r in rows if r["first_ts"] - 1 <= fl["first_ts"] <= r["last_ts"] + 1]
    return rows


def unseen_connections(cap, flows) -> list:
    """Labelled connections that left nothing in EVE (no message record, no alert): they count
    too, as connections the detector did not flag, so that no part of the traffic is hidden
    from the figures."""
    seen = {id(r) for fl in flows for r in label_rows(cap, fl)}
    out = []
    for r in cap.labels:
        if id(r) not in seen:
            out.append({"key": (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"]),
                        "first_ts": r["first_ts"], "last_ts": r["last_ts"], "messages": 0,
                        "anomalies": 0, "cls": r["class"], "unseen": True})
    return out


def label_flow(cap, fl, mq_benign_clients) -> str:
    """The class of one flow: from the generator's labels, or for MQTTset by client address."""
    if cap.labels:
        rows = label_rows(cap, fl)
        return rows[0]["class"] if len(rows) == 1 else ""
    if cap.cls == config.BENIGN:
        return config.BENIGN
    return config.BENIGN if fl["key"][0] in mq_benign_clients else cap.cls


def run_captures(env_caps, plugin: Path, model: Path, rules: Path) -> list:
    """Runs the detector over one environment's captures: (capture, labelled flows) each."""
    out = []
    mq_benign = set()
    # Benign captures first: MQTTset attack captures are labelled by the benign clients' addresses.
    for cap in sorted(env_caps, key=lambda c: c.cls != config.BENIGN):
        work = Path(tempfile.mkdtemp(prefix="mqtt-ml-loeo-"))
        try:
            flows = read_eve(detect(plugin, cap.path, model, rules, work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if cap.dataset == "mqttset" and cap.cls == config.BENIGN:
            mq_benign |= {fl["key"][0] for fl in flows.values()}
        for fl in flows.values():
            fl["cls"] = label_flow(cap, fl, mq_benign)
        flows = list(flows.values())
        if cap.labels:
            flows += unseen_connections(cap, flows)
        out.append((cap, flows))
    return out


def tally(runs) -> dict:
    """Per-connection and per-message counts over (capture, flows) pairs."""
    conns = defaultdict(lambda: {"n": 0, "alarmed": 0, "unseen": 0})
    msgs = {"benign": 0, "benign_anomalous": 0}
    unlabelled = 0
    alarm_sids = defaultdict(int)
    alarm_why = defaultdict(int)
    for _cap, flows in runs:
        for fl in flows:
            cls = fl["cls"]
            if not cls:
                unlabelled += 1
                continue
            alarmed = fl["anomalies"] > 0 or bool(fl.get("sids"))
            conns[cls]["n"] += 1
            conns[cls]["alarmed"] += int(alarmed)
            conns[cls]["unseen"] += int(fl.get("unseen", False))
            if cls == config.BENIGN:
                msgs["benign"] += fl["messages"]
                msgs["benign_anomalous"] += fl["anomalies"]
                for sid in fl.get("sids", []):
                    alarm_sids[sid] += 1
                if alarmed:
                    alarm_why[fl.get("why", "rule only")] += 1
    out = {"connections": dict(conns), "messages": msgs, "unlabelled_connections": unlabelled,
           "benign_alerts_by_sid": dict(alarm_sids),
           "benign_alarms_by_first_anomaly": dict(alarm_why)}
    b = conns.get(config.BENIGN, {"n": 0, "alarmed": 0})
    out["benign_alarm_rate"] = b["alarmed"] / b["n"] if b["n"] else float("nan")
    out["benign_message_rate"] = (msgs["benign_anomalous"] / msgs["benign"]
                                  if msgs["benign"] else float("nan"))
    out["recall"] = {c: v["alarmed"] / v["n"] for c, v in conns.items()
                     if c != config.BENIGN and v["n"]}
    return out


def learn_site(cli: Path, benign: Path, model: Path, out: Path) -> Path:
    """`mqtt-ml learn`: the site model fitted on one benign capture."""
    p = subprocess.run([str(cli), "learn", str(benign), "-o", str(out), "--model", str(model)],
                       cwd=config.REPO, capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError(f"mqtt-ml learn failed on {benign}: {(p.stderr or p.stdout)[-1000:]}")
    return out / model.name


def capture_seconds(flows) -> float:
    """From the first MQTT message of the capture to its last."""
    if not flows:
        return 0.0
    timed = [fl for fl in flows if fl["first_ts"] is not None]
    if not timed:
        return 0.0
    return max(fl["last_ts"] for fl in timed) - min(fl["first_ts"] for fl in timed)


def pct(v: float, digits: int) -> str:
    """A rate as a percentage, or "-" when there was nothing to count."""
    return "-" if v != v else f"{v:.{digits}%}"


def run(a, c, caps, fit, export_metadata, log) -> dict:
    """The whole evaluation: one fold per environment with benign training data elsewhere.

    `fit(train_mask, val_mask)` returns what pipeline.fit returns; `export_metadata(t)` the
    metadata dict for a fitted model."""
    from .corpus import TRAIN, VAL
    envs = sorted({cp.environment for cp in caps if cp.role == "use"})
    rules_dir = Path(tempfile.mkdtemp(prefix="mqtt-ml-loeo-rules-"))
    rules = rules_dir / "all.rules"
    rules.write_text("".join((config.REPO / r).read_text() for r in RULE_FILES))
    folds = {}
    try:
        for env in envs:
            tr = (c.ae == TRAIN) & (c.dataset != env)
            va = (c.ae == VAL) & (c.dataset != env)
            if not tr.any() or not va.any():
                log(f"LOEO {env}: no benign training data outside it, skipped")
                continue
            log(f"LOEO: holding out {env} (training on "
                f"{', '.join(sorted(set(np.unique(c.dataset[tr])) ))})")
            t = fit(tr, va)
            mdir = rules_dir / env
            mdir.mkdir()
            model = mdir / "model.tflite"
            model.write_bytes(t["flatbuffer"])
            model.with_suffix(".json").write_text(json.dumps(export_metadata(t)))
            # Kept for inspection: the plugin loads it like any model
            # (app-layer.protocols.mqtt-ml.model=$MQTT_ML_CACHE/loeo/<env>/model.tflite).
            keep = config.cache_root() / "loeo" / env
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(model, keep / model.name)
            shutil.copy(model.with_suffix(".json"), keep / "model.json")
            env_caps = [cp for cp in caps if cp.environment == env and cp.role == "use"]
            runs = run_captures(env_caps, a.plugin, model, rules)
            r = tally(runs)
            names = sorted({cp.run for cp, _fl in runs})
            if len(names) > 1:
                r["by_run"] = {n: tally([x for x in runs if x[0].run == n]) for n in names}
            r["site"] = site_calibration(a, env_caps, runs, model, rules, mdir)
            r["trained_on"] = sorted(set(np.unique(c.dataset[tr]).tolist()))
            r["threshold"] = t["thresholds"][a.threshold]
            r["captures"] = [cp.name for cp in env_caps]
            folds[env] = r
            log(f"LOEO {env}: benign connections alarmed {r['benign_alarm_rate']:.3%}, "
                f"benign messages anomalous {r['benign_message_rate']:.4%}, recall "
                + ", ".join(f"{k} {v:.3f}" for k, v in sorted(r["recall"].items())))
    finally:
        shutil.rmtree(rules_dir, ignore_errors=True)
    fresh = {e: r["by_run"][n] for e, r in folds.items() for n in r.get("by_run", {})
             if n != "a"}
    return {"folds": folds, "worst": worst(folds), "worst_fresh": worst(fresh)}


def site_calibration(a, env_caps, runs, model: Path, rules: Path, mdir: Path) -> dict:
    """What `mqtt-ml learn` on the environment's benign capture changes. Learned from the benign
    capture, measured on the attack captures only (their attacks and the benign devices running
    beside them), before and after: never on the traffic it learned from."""
    benign = sorted((cp for cp in env_caps if cp.cls == config.BENIGN), key=lambda c: c.name)[:1]
    attacks = [cp for cp in env_caps if cp.cls != config.BENIGN]
    if not benign or not attacks:
        return {}
    site_model = learn_site(a.cli, benign[0].path, model, mdir / "site")
    before = tally([(cp, fl) for cp, fl in runs if cp.cls != config.BENIGN])
    after = tally(run_captures(attacks, a.plugin, site_model, rules))
    learned = next(fl for cp, fl in runs if cp is benign[0])
    return {"learned_from": benign[0].name, "learned_seconds": capture_seconds(learned),
            "learned_messages": sum(fl["messages"] for fl in learned),
            "before": before, "after": after}


def worst(folds: dict) -> dict:
    """The worst environment for each figure (highest false alarm rates, lowest recall)."""
    if not folds:
        return {}
    out = {}
    out["benign_alarm_rate"] = max(((r["benign_alarm_rate"], e) for e, r in folds.items()
                                    if r["benign_alarm_rate"] == r["benign_alarm_rate"]),
                                   default=(float("nan"), ""))
    out["benign_message_rate"] = max(((r["benign_message_rate"], e) for e, r in folds.items()
                                      if r["benign_message_rate"] == r["benign_message_rate"]),
                                     default=(float("nan"), ""))
    rec = {}
    for e, r in folds.items():
        for cls, v in r["recall"].items():
            if cls not in rec or v < rec[cls][0]:
                rec[cls] = (v, e)
    out["recall"] = rec
    return out


def worst_lines(w: dict) -> list:
    """The worst environment of each figure, with its goal."""
    out = []
    v, e = w["benign_alarm_rate"]
    out.append(f"- benign connections alarmed: {v:.2%} ({e}); goal "
               f"{'met' if v <= GOAL_BENIGN_CONNECTIONS else 'MISSED'}")
    v, e = w["benign_message_rate"]
    out.append(f"- benign messages anomalous: {v:.3%} ({e}); goal "
               f"{'met' if v <= GOAL_BENIGN_MESSAGES else 'MISSED'}")
    for cls, (v, e) in sorted(w["recall"].items()):
        out.append(f"- {cls} recall: {v:.3f} ({e}); goal "
                   f"{'met' if v >= GOAL_RECALL else 'MISSED'}")
    return out


def figure_cells(t: dict, classes: list) -> str:
    """One tally's table cells: benign connections alarmed, benign messages anomalous, then the
    recall of each class (count in brackets)."""
    b = t["connections"].get(config.BENIGN, {"n": 0, "alarmed": 0})
    m = t["messages"]
    cells = [f"{pct(t['benign_alarm_rate'], 2)} ({b['alarmed']}/{b['n']})",
             f"{pct(t['benign_message_rate'], 3)} ({m['benign_anomalous']}/{m['benign']})"]
    for cls in classes:
        v = t["connections"].get(cls)
        cells.append(f"{v['alarmed'] / v['n']:.3f} ({v['alarmed']}/{v['n']})" if v else "-")
    return " | ".join(cells)


def by_run_lines(folds: dict, classes: list) -> list:
    """The same figures split by run, for environments with more than one run. Run "a" is the
    one features, rules and the decision were developed on; later runs (scripts/gen-corpus.py
    --run b with another seed) draw other attack parameters and were generated afterwards."""
    rows = [(e, n, t) for e, r in sorted(folds.items())
            for n, t in sorted(r.get("by_run", {}).items())]
    if not rows:
        return []
    out = ["", "The same, split by run. Run `a` of each environment is the one features, rules "
           "and the decision were developed on; a later run has another seed and its own attack "
           "parameters (`scripts/gen-corpus.py --run b`), and nothing was chosen on it:", "",
           "| held out | run | benign connections alarmed | benign messages anomalous | "
           + " | ".join(f"{c} recall" for c in classes) + " |",
           "|---|---|---|---|" + "---|" * len(classes)]
    for env, n, t in rows:
        out.append(f"| {env} | {n} | {figure_cells(t, classes)} |")
    return out


def markdown(loeo: dict, threshold_name: str) -> list:
    """The report's section: one row per held-out environment, then the worst."""
    folds = loeo.get("folds", {})
    if not folds:
        return ["No environment could be held out (each needs benign data elsewhere).", ""]
    classes = sorted({k for r in folds.values() for k in r["recall"]})
    lines = [
        f"Default configuration and threshold ({threshold_name}), the shipped rules loaded. A "
        "benign connection counts as a false alarm when any of its messages has "
        "`anomaly: true` or any rule alerts on it; an attack connection counts as detected on "
        "the same condition. Goals: at most "
        f"{GOAL_BENIGN_CONNECTIONS:.0%} of benign connections, at most "
        f"{GOAL_BENIGN_MESSAGES:.1%} of benign messages, recall at least {GOAL_RECALL} per "
        "class.", "",
        "| held out | trained on | benign connections alarmed | benign messages anomalous | "
        + " | ".join(f"{c} recall" for c in classes) + " |",
        "|---|---|---|---|" + "---|" * len(classes),
    ]
    for env, r in sorted(folds.items()):
        lines.append(f"| {env} | {', '.join(r['trained_on'])} | {figure_cells(r, classes)} |")
    unseen = defaultdict(int)
    for r in folds.values():
        for cls, v in r["connections"].items():
            unseen[cls] += v.get("unseen", 0)
    if any(unseen.values()):
        lines += ["", "Connections that left nothing in EVE (no message record, no alert) are "
                  "counted as not flagged: " + ", ".join(
                      f"{cls} {n}" for cls, n in sorted(unseen.items()) if n) + "."]
    lines += by_run_lines(folds, classes)
    w = loeo["worst"]
    lines += ["", "Worst environment (every environment counts, `generated` included: there every "
              "host is 127.0.0.1, so benign devices and attackers are one client for the "
              "per-client evidence, the harshest case a NAT can produce):", ""]
    lines += worst_lines(w)
    wf = loeo.get("worst_fresh")
    if wf:
        lines += ["", "Worst environment on the later runs alone (other seed, other attack "
                  "parameters; nothing was chosen on them):", ""]
        lines += worst_lines(wf)
    cal = {e: r["site"] for e, r in folds.items() if r.get("site")}
    if cal:
        lines += ["", "Site calibration (`mqtt-ml learn` on the held-out environment's benign "
                  "capture, then the same model re-run on that environment's attack captures: "
                  "their attacks and the benign devices beside them, never the traffic it learned "
                  "from):", "",
                  "| held out | learned from | benign connections alarmed, before -> after | "
                  "benign messages anomalous, before -> after | lowest recall, before -> after |",
                  "|---|---|---|---|---|"]
        for env, c in sorted(cal.items()):
            b, f = c["before"], c["after"]
            lo_b = min(b["recall"].values(), default=float("nan"))
            lo_f = min(f["recall"].values(), default=float("nan"))
            lines.append(
                f"| {env} | {c['learned_from']} ({c['learned_messages']} messages, "
                f"{c['learned_seconds']:.0f} s) | {pct(b['benign_alarm_rate'], 2)} -> "
                f"{pct(f['benign_alarm_rate'], 2)} | {pct(b['benign_message_rate'], 3)} -> "
                f"{pct(f['benign_message_rate'], 3)} | {lo_b:.3f} -> {lo_f:.3f} |")
    why = [(e, r.get("benign_alarms_by_first_anomaly", {})) for e, r in sorted(folds.items())]
    if any(w for _e, w in why):
        lines += ["", "Alarmed benign connections by their first anomalous message (type / top "
                  "feature): " + "; ".join(
                      f"{e}: " + ", ".join(f"{k} {n}" for k, n in sorted(w.items(),
                                                                         key=lambda x: -x[1]))
                      for e, w in why if w)]
    sids = defaultdict(int)
    for r in folds.values():
        for sid, n in r["benign_alerts_by_sid"].items():
            sids[sid] += n
    if sids:
        lines += ["", "Rules that alerted on benign connections (connections, all folds): "
                  + ", ".join(f"{sid} ({n})" for sid, n in sorted(sids.items()))]
    lines.append("")
    return lines
