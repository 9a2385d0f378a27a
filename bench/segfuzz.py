#!/usr/bin/env python3
"""Segmentation fuzzer: the real Suricata 8.0.7 with the plugin over random TCP re-segmentations
of seed captures, checked against the same capture as it was recorded.

A case is (seed capture, integer seed). From it, deterministically, every TCP segment that carries
data may be cut into pieces at random points (single-byte pieces included), its pieces reordered,
repeated (exact retransmissions) and overlapped by retransmissions that span several pieces, always
with the original bytes. Every piece keeps the original segment's timestamp, ACK number, window and
options; its sequence number is the original's plus its offset, and checksums are recomputed. So the
byte streams, the ACKs that make Suricata hand data to the parser, and the time of every byte are
those of the recording: only how the bytes are cut into segments changes.

Many cases of one capture run in one Suricata process (single runmode, `-k none`): case k's hosts
get addresses of their own (10.k.x.y, one per address of the capture, so which connections share a
client address is unchanged) and the capture's timestamps. Each capture also runs once unchanged:
the baseline.

Oracles, each of which fails the case (or the run):
  * Suricata exits 0 by itself, its output has no panic, abort or error line;
  * per connection, the sequence of mqtt_ml records equals the baseline's (every field but those
    listed in IGNORED below, which describe the carrying segment and are checked by invariants);
  * per connection, the alerts of the shipped rules (sid, message index), the app-layer anomaly
    events and the flow's app_proto equal the baseline's;
  * the run's mqtt-ml counters are the baseline's times the number of cases.

Usage:
  segfuzz.py [--seconds S | --cases N] [--seed-start K] [--captures PCAP ...] [--plugin SO]
             [--per-run N] [--work DIR] [--case-log FILE] [--failures DIR]
  segfuzz.py --replay CAPTURE:SEED [--write PCAP]     one case, alone (or just write its capture)

Exit status: 0 when every case passed, 1 on any failure, 2 on a usage or set-up problem.
"""
import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaplib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CAPTURES = ["pcaps/*.pcap", "pcaps/ns-home/*.pcap"]

# Fields of an mqtt_ml record that legitimately depend on segmentation; everything else must match.
IGNORED = {
    # Suricata's own identifiers: the flow hash and the packet number change with the number of
    # packets and with the addresses given to each case.
    "flow_id",
    "pcap_cnt",
}
# `tcp.flags` and `tcp.len` describe the segment that carried the message's last byte, which is a
# piece of the recorded segment now: they are not compared but checked by invariant instead
# (1 <= len <= the recorded segment's length; flags a subset of the recorded segment's flags).
# `tcp.ts` and `tcp.timed_by_packet` are compared: every piece has its segment's timestamp.
TCP_IGNORED = {"flags", "len"}
# A record whose `pkt_src` is not "wire/pcap" was parsed when Suricata's flow manager timed its
# flow out (data never acknowledged, e.g. bytes after which the broker reset the connection). The
# flow manager is a thread of its own: where that happens among the other flows' packets, and so
# the per-client counts the message sees, differ from one run to the next even for the unchanged
# capture (the thread-count e2e test sets these records aside too). For them, what depends on
# other connections is not compared: the client counts, the features made from them (8-11), and
# the score, decision and alerts that follow from those. The message, its flow context and its
# timing still are.
FLUSHED_IGNORED = {"src", "score", "above_threshold", "anomaly", "evidence", "top_features",
                   "score_failed"}
CLIENT_FEATURES_FROM = 8

# Counters of the run (EVE stats) that must be the baseline's times the number of cases.
COUNTERS = [
    "app_layer.flow.mqtt-ml",
    "app_layer.tx.mqtt-ml",
    "app_layer.error.mqtt-ml.gap",
    "app_layer.error.mqtt-ml.alloc",
    "app_layer.error.mqtt-ml.parser",
    "app_layer.error.mqtt-ml.internal",
    "mqtt_ml.scored",
    # not mqtt_ml.anomalies: it counts decisions of flow-timeout records too (see FLUSHED_IGNORED);
    # every other record's `anomaly` is compared one by one
    "mqtt_ml.inference_errors",
    "mqtt_ml.source_evictions",
    "mqtt_ml.probe_refusals",
    "mqtt_ml.memcap_refusals",
]

FIN, SYN, RST = 0x01, 0x02, 0x04
RUN_TIMEOUT = 600  # seconds for one Suricata run; a run normally takes a few


# ---------------------------------------------------------------------------------------------
# Capture parsing


class Seg:
    """One Ethernet/IPv4/TCP frame of the capture, parsed."""

    __slots__ = ("ts", "src", "dst", "sport", "dport", "seq", "ack", "flags", "window", "options",
                 "payload")


def load_capture(path):
    """(list of (ts_us, frame, Seg or None), distinct IPv4 addresses in order of appearance)."""
    frames = []
    addrs = {}
    for sec, usec, frame in pcaplib.read_pcap(path):
        ts = sec * 1_000_000 + usec
        seg = parse_tcp(frame)
        if seg is not None:
            seg.ts = ts
            for a in (seg.src, seg.dst):
                addrs.setdefault(a, len(addrs))
        frames.append((ts, frame, seg))
    return frames, list(addrs)


def parse_tcp(frame):
    if len(frame) < 54 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0x0F) * 4
    if frame[23] != 6 or (struct.unpack("!H", frame[20:22])[0] & 0x3FFF):
        return None  # not TCP, or a fragment
    total = struct.unpack("!H", frame[16:18])[0]
    t = 14 + ihl
    off = (frame[t + 12] >> 4) * 4
    s = Seg()
    s.src, s.dst = frame[26:30], frame[30:34]
    s.sport, s.dport, s.seq, s.ack = struct.unpack("!HHII", frame[t:t + 12])
    s.flags = frame[t + 13]
    s.window = struct.unpack("!H", frame[t + 14:t + 16])[0]
    s.options = frame[t + 20:t + off]
    s.payload = frame[t + off:14 + total]
    return s


# ---------------------------------------------------------------------------------------------
# Re-segmentation


class CaseStats:
    def __init__(self):
        self.frames = 0
        self.split = 0          # recorded segments cut into pieces
        self.pieces = 0         # pieces written (repeats and overlaps included)
        self.one_byte = 0       # pieces of one byte
        self.reordered = 0      # segments whose pieces went out of order
        self.repeats = 0        # exact retransmissions of a piece
        self.overlaps = 0       # retransmissions spanning pieces


def cut_points(rng, n):
    """Sorted cut offsets in (0, n) for a payload of n bytes."""
    mode = rng.random()
    cuts = set()
    if n <= 24 and mode < 0.3:
        cuts.update(range(1, n))                               # every byte its own segment
    elif mode < 0.55:
        cuts.update(rng.sample(range(1, n), min(n - 1, rng.randint(1, 6))))
    elif mode < 0.8:
        # single bytes over a window: fixed headers, lengths and strings cut byte by byte
        start = rng.randrange(0, n)
        for c in range(start, min(n, start + rng.randint(2, 40))):
            if 0 < c < n:
                cuts.add(c)
    else:
        # the first bytes of the segment, where a message usually starts: type byte, remaining
        # length, and the start of the variable header
        for c in range(1, min(n, rng.randint(2, 8))):
            cuts.add(c)
        if rng.random() < 0.5 and n > 2:
            cuts.add(rng.randrange(1, n))
    return sorted(cuts)


def resegment(seg, rng, params, st):
    """The segment's pieces as (offset, end, flags) in the order they are sent."""
    n = len(seg.payload)
    if n < 2 or seg.flags & (SYN | RST) or rng.random() >= params["p_split"]:
        pieces = [(0, n)]
    else:
        cuts = [0] + cut_points(rng, n) + [n]
        pieces = [(a, b) for a, b in zip(cuts, cuts[1:])]
        st.split += 1
    if len(pieces) > 1 and rng.random() < params["p_reorder"]:
        how = rng.random()
        if how < 0.4:
            rng.shuffle(pieces)
        elif how < 0.7:
            pieces.reverse()
        else:
            i = rng.randrange(len(pieces) - 1)
            pieces[i], pieces[i + 1] = pieces[i + 1], pieces[i]
        st.reordered += 1
    if n and not seg.flags & (SYN | RST):
        out = []
        for p in pieces:
            out.append(p)
            if rng.random() < params["p_repeat"]:
                out.append(p)
                st.repeats += 1
        if rng.random() < params["p_overlap"]:
            a = rng.randrange(0, n)
            b = rng.randint(a + 1, n)
            out.insert(rng.randint(0, len(out)), (a, b))
            st.overlaps += 1
        pieces = out
    result = []
    for a, b in pieces:
        flags = seg.flags
        if b < n:
            flags &= ~FIN  # a FIN only on the piece that ends where the segment ended
        result.append((a, b, flags))
        if b - a == 1:
            st.one_byte += 1
    st.pieces += len(result)
    return result


def case_params(rng):
    return {
        "p_split": rng.choice([0.2, 0.5, 0.8, 1.0]),
        "p_reorder": rng.choice([0.0, 0.3, 0.7]),
        "p_repeat": rng.choice([0.0, 0.05, 0.2]),
        "p_overlap": rng.choice([0.0, 0.1, 0.3]),
    }


def case_frames(capture_name, frames, addrs, seed, slot):
    """(ts_us, frame) of one case, with its hosts on 10.slot.x.y (slot 0: addresses unchanged)."""
    rng = random.Random(f"{capture_name}:{seed}")
    params = case_params(rng)
    st = CaseStats()
    amap = {a: mapped_addr(slot, i) if slot else a for i, a in enumerate(addrs)}
    out = []
    for ts, frame, seg in frames:
        if seg is None:
            out.append((ts, frame))
            continue
        src, dst = amap[seg.src], amap[seg.dst]
        if not seg.payload:
            out.append((ts, pcaplib.readdress(frame, src, dst) if slot else frame))
            continue
        for a, b, flags in resegment(seg, rng, params, st):
            out.append((ts, pcaplib.tcp_frame(src, dst, seg.sport, seg.dport, seg.seq + a, seg.ack,
                                              flags, seg.payload[a:b], seg.window, seg.options)))
    st.frames = len(out)
    return out, st, params


def mapped_addr(slot, i):
    i += 1
    return bytes([10, slot, i >> 8, i & 0xFF])


def write_pcap(path, cases):
    """Merges the cases' frames by timestamp (stable: a case's own order is kept) into path."""
    merged = []
    for ci, frames in enumerate(cases):
        merged.extend((ts, ci, j, f) for j, (ts, f) in enumerate(frames))
    merged.sort(key=lambda x: (x[0], x[2], x[1]))
    w = pcaplib.PcapWriter(path)
    for ts, _ci, _j, f in merged:
        w.write(ts, f)
    w.close()


# ---------------------------------------------------------------------------------------------
# Running Suricata and reading its output


class Env:
    def __init__(self, plugin, rules):
        self.suricata = os.environ.get("SURICATA") or shutil.which("suricata")
        if not self.suricata:
            sys.exit("segfuzz: suricata not on PATH (. scripts/env.sh after scripts/setup.sh)")
        prefix = os.path.dirname(os.path.dirname(self.suricata))
        self.yaml = os.environ.get("SURICATA_YAML") or os.path.join(prefix,
                                                                    "etc/suricata/suricata.yaml")
        self.plugin = os.path.abspath(plugin)
        self.rules = rules
        for p in (self.yaml, self.plugin):
            if not os.path.isfile(p):
                sys.exit(f"segfuzz: {p} missing")

    def run(self, pcap, outdir, extra=()):
        shutil.rmtree(outdir, ignore_errors=True)
        os.makedirs(outdir)
        cmd = [self.suricata, "-c", self.yaml, "--set", f"plugins.0={self.plugin}", "-k", "none",
               "--runmode", "single", "-l", outdir, "-r", pcap, "-S", self.rules,
               # every field of every record, and the feature vector
               "--set", "app-layer.protocols.mqtt-ml.eve-record=full",
               "--set", "app-layer.protocols.mqtt-ml.log-features=yes", *extra]
        try:
            p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, errors="replace",
                               timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(
                errors="replace")
            return None, out + f"\nsegfuzz: no exit after {RUN_TIMEOUT} s (hang)"
        return p.returncode, p.stdout + p.stderr


def process_problems(code, output, outdir):
    """What is wrong with how Suricata ended, as a list of strings."""
    problems = []
    if code is None:
        problems.append("hang: killed after the run timeout")
    elif code != 0:
        problems.append(f"exit status {code}" + (" (signal)" if code < 0 else ""))
    log = ""
    try:
        with open(os.path.join(outdir, "suricata.log"), errors="replace") as f:
            log = f.read()
    except OSError:
        problems.append("no suricata.log")
    for line in (output + "\n" + log).splitlines():
        low = line.lower()
        if ("panicked" in low or "panic" in low and "mqtt" in low or "abort" in low
                or "stack backtrace" in low or line.startswith("E: ") or " Error: " in line
                or "<Error>" in line):
            problems.append(f"output: {line.strip()}")
    return problems


def read_eve(outdir, addrs, mapped):
    """Per (slot, connection): records, alerts, anomaly events, app_proto; and the last stats.
    `mapped`: the run's addresses are the cases' own (10.slot.x.y), mapped back to the capture's."""
    flows = defaultdict(lambda: {"records": [], "alerts": [], "anomalies": [], "app_proto": []})
    stats = None
    with open(os.path.join(outdir, "eve.json"), errors="replace") as f:
        for line in f:
            ev = json.loads(line)
            et = ev.get("event_type")
            if et == "stats":
                stats = ev["stats"]
                continue
            if et not in ("mqtt_ml", "alert", "anomaly", "flow"):
                continue
            slot, src = unmap(ev.get("src_ip"), addrs) if mapped else (0, ev.get("src_ip"))
            _, dst = unmap(ev.get("dest_ip"), addrs) if mapped else (0, ev.get("dest_ip"))
            key = (slot, src, ev.get("src_port"), dst, ev.get("dest_port"))
            fl = flows[key]
            if et == "mqtt_ml":
                fl["records"].append(ev)
            elif et == "alert":
                fl["alerts"].append((ev["alert"]["signature_id"],
                                     (ev.get("mqtt_ml") or {}).get("msg_index")))
            elif et == "anomaly":
                a = ev.get("anomaly", {})
                if a.get("type") == "applayer":
                    fl["anomalies"].append(a.get("event"))
            else:
                fl["app_proto"].append(ev.get("app_proto"))
    for fl in flows.values():
        fl["alerts"].sort(key=repr)
        fl["anomalies"].sort(key=repr)
        fl["app_proto"].sort(key=repr)
    return flows, stats


def unmap(ip, addrs):
    """(slot, the capture's address) for an address of a case; slot 0 for any other address."""
    parts = (ip or "").split(".")
    if len(parts) == 4 and parts[0] == "10" and parts[1] != "0":
        i = int(parts[2]) * 256 + int(parts[3]) - 1
        if 0 <= i < len(addrs):
            return int(parts[1]), ".".join(str(b) for b in addrs[i])
    return 0, ip


def stat(stats, dotted):
    o = stats
    for k in dotted.split("."):
        if not isinstance(o, dict) or k not in o:
            # counters at zero may be left out; a missing counter is read as 0
            return 0
        o = o[k]
    return o


def normalized(rec):
    r = {k: v for k, v in rec.items() if k not in IGNORED}
    m = dict(r.get("mqtt_ml", {}))
    if "tcp" in m:
        m["tcp"] = {k: v for k, v in m["tcp"].items() if k not in TCP_IGNORED}
    if rec.get("pkt_src") != "wire/pcap":
        m = {k: v for k, v in m.items() if k not in FLUSHED_IGNORED}
        if "features" in m:
            m["features"] = m["features"][:CLIENT_FEATURES_FROM]
    r["mqtt_ml"] = m
    r.pop("src_ip", None)
    r.pop("dest_ip", None)
    return r


def first_difference(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: {a.get(k, '<absent>')!r} vs {b.get(k, '<absent>')!r}"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if a != b:
        return f"{path}: {a!r} vs {b!r}"
    return None


def compare_flow(base, got):
    """Differences between the baseline's view of one connection and a case's."""
    diffs = []
    br, gr = base["records"], got["records"]
    if len(br) != len(gr):
        diffs.append(f"{len(gr)} mqtt_ml records, baseline {len(br)}")
    for i, (b, g) in enumerate(zip(br, gr)):
        d = first_difference(normalized(b), normalized(g))
        if d:
            diffs.append(f"record {i + 1} (msg_index {b['mqtt_ml'].get('msg_index')}): {d}")
            break
        bt, gt = b["mqtt_ml"].get("tcp", {}), g["mqtt_ml"].get("tcp", {})
        if gt.get("timed_by_packet") and not 1 <= gt.get("len", 0) <= bt.get("len", 0):
            diffs.append(f"record {i + 1}: tcp.len {gt.get('len')} not in 1..{bt.get('len')}")
            break
        if gt.get("timed_by_packet") and gt.get("flags", 0) & ~bt.get("flags", 0):
            diffs.append(f"record {i + 1}: tcp.flags {gt.get('flags')} not within "
                         f"{bt.get('flags')}")
            break
    flushed = {r["mqtt_ml"].get("msg_index") for r in br if r.get("pkt_src") != "wire/pcap"}
    ba = [a for a in base["alerts"] if a[1] not in flushed]
    ga = [a for a in got["alerts"] if a[1] not in flushed]
    if ba != ga:
        diffs.append(f"alerts (sid, msg_index): {ga} vs baseline {ba}")
    for what in ("anomalies", "app_proto"):
        if base[what] != got[what]:
            diffs.append(f"{what}: {got[what]} vs baseline {base[what]}")
    return diffs


# ---------------------------------------------------------------------------------------------
# The campaign


class Seed:
    def __init__(self, path, env, work):
        self.path = path
        self.name = os.path.relpath(os.path.abspath(path), ROOT)
        self.frames, self.addrs = load_capture(path)
        outdir = os.path.join(work, "baseline-" + self.name.replace("/", "_"))
        code, output = env.run(os.path.abspath(path), outdir)
        problems = process_problems(code, output, outdir)
        if problems:
            raise SystemExit(f"segfuzz: baseline run of {self.name} failed: {problems}")
        flows, self.stats = read_eve(outdir, self.addrs, False)
        self.flows = {k[1:]: v for k, v in flows.items()}
        self.messages = sum(len(v["records"]) for v in self.flows.values())
        shutil.rmtree(outdir, ignore_errors=True)


class Totals:
    def __init__(self):
        self.runs = 0
        self.cases = 0
        self.failed_cases = 0
        self.flows = 0
        self.messages = 0
        self.frames = 0
        self.st = Counter()
        self.failures = []


def run_batch(env, seed, seeds, work, totals, failures_dir, case_log, extra=()):
    """One Suricata run over the cases `seeds` of capture `seed`. Returns the failed case ids."""
    cases, stats = [], []
    for slot, s in enumerate(seeds, start=1):
        frames, st, _params = case_frames(seed.name, seed.frames, seed.addrs, s, slot)
        cases.append(frames)
        stats.append(st)
    pcap = os.path.join(work, "batch.pcap")
    write_pcap(pcap, cases)
    outdir = os.path.join(work, "batch")
    code, output = env.run(pcap, outdir, extra)
    totals.runs += 1
    failed = {}
    problems = process_problems(code, output, outdir)
    if problems and len(seeds) > 1:
        # Which case made Suricata fail: each alone (the batch's totals are not counted).
        print(f"segfuzz: {seed.name} cases {seeds[0]}..{seeds[-1]}: {problems[0]}; "
              "running each alone", file=sys.stderr)
        failed = {}
        for s in seeds:
            failed.update(run_batch(env, seed, [s], work, totals, failures_dir, case_log, extra))
        return failed
    if problems:
        for s in seeds:
            failed[s] = list(problems[:5])
    flows, run_stats = ({}, None) if problems and code != 0 else read_eve(outdir, seed.addrs, True)
    if not problems:
        for c in COUNTERS:
            want = stat(seed.stats, c) * len(seeds)
            if c == "mqtt_ml.source_evictions":
                want = 0
            got = stat(run_stats, c) if run_stats else None
            if got != want:
                for s in seeds:
                    failed.setdefault(s, []).append(f"counter {c} = {got}, expected {want}")
        by_slot = defaultdict(dict)
        for k, v in flows.items():
            by_slot[k[0]][k[1:]] = v
        for slot, s in enumerate(seeds, start=1):
            got_flows = by_slot.get(slot, {})
            empty = {"records": [], "alerts": [], "anomalies": [], "app_proto": []}
            for key in sorted(set(seed.flows) | set(got_flows), key=repr):
                d = compare_flow(seed.flows.get(key, empty), got_flows.get(key, empty))
                if d:
                    failed.setdefault(s, []).append(f"connection {key}: " + "; ".join(d[:3]))
            totals.flows += len(got_flows)
        if by_slot.get(0):
            for s in seeds:
                failed.setdefault(s, []).append(f"records outside the cases' addresses: "
                                                f"{sorted(by_slot[0], key=repr)[:3]}")
    totals.cases += len(seeds)
    if not problems:
        totals.messages += seed.messages * len(seeds)
    for st in stats:
        totals.frames += st.frames
        totals.st.update({k: getattr(st, k) for k in ("split", "pieces", "one_byte", "reordered",
                                                       "repeats", "overlaps")})
    for s, st in zip(seeds, stats):
        if case_log:
            case_log.write(f"{seed.name} {s} frames={st.frames} split={st.split} "
                           f"one_byte={st.one_byte} reordered={st.reordered} "
                           f"repeats={st.repeats} overlaps={st.overlaps} "
                           f"{'FAIL' if s in failed else 'ok'}\n")
    for s, why in sorted(failed.items()):
        totals.failed_cases += 1
        cid = f"{seed.name}:{s}"
        totals.failures.append((cid, why))
        print(f"FAIL {cid}", file=sys.stderr)
        for w in why[:6]:
            print(f"    {w}", file=sys.stderr)
        if failures_dir:
            os.makedirs(failures_dir, exist_ok=True)
            frames, _st, _p = case_frames(seed.name, seed.frames, seed.addrs, s, 0)
            write_pcap(os.path.join(failures_dir, cid.replace("/", "_").replace(":", "-")
                                    + ".pcap"), [frames])
            with open(os.path.join(failures_dir, "failures.txt"), "a") as f:
                f.write(f"{cid}\n" + "".join(f"    {w}\n" for w in why) + "\n")
    return failed


def expand(patterns):
    import glob
    out = []
    for p in patterns:
        hits = sorted(glob.glob(os.path.join(ROOT, p))) if not os.path.isabs(p) else [p]
        out.extend(h for h in hits if os.path.isfile(h))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, help="run cases until this much time has passed")
    ap.add_argument("--cases", type=int, help="cases per capture (instead of --seconds)")
    ap.add_argument("--seed-start", type=int, default=1)
    ap.add_argument("--captures", nargs="+", default=DEFAULT_CAPTURES)
    ap.add_argument("--plugin", default=os.path.join(ROOT, "target/release/libmqtt_ml.so"))
    ap.add_argument("--rules", default=None,
                    help="rules file (default: the shipped rules, suricata-rules/*.rules)")
    ap.add_argument("--per-run-frames", type=int, default=150_000,
                    help="pack cases into one Suricata run up to about this many frames")
    ap.add_argument("--max-per-run", type=int, default=64, help="at most 250 (10.slot.x.y)")
    ap.add_argument("--work", default=None, help="scratch directory (default: a new one in /tmp)")
    ap.add_argument("--case-log", help="append one line per case to this file")
    ap.add_argument("--failures", help="write failing cases' captures and reasons here")
    ap.add_argument("--fuzz-set", action="append", default=[],
                    help="extra --set for the re-segmented runs only (a negative control: a "
                         "setting that changes records must make cases fail)")
    ap.add_argument("--replay", help="CAPTURE:SEED, one case alone")
    ap.add_argument("--write", help="with --replay: write the case's capture here and stop")
    a = ap.parse_args()
    if not 1 <= a.max_per_run <= 250:
        ap.error("--max-per-run must be 1..250")

    if a.replay and a.write:
        cap, s = a.replay.rsplit(":", 1)
        frames, addrs = load_capture(os.path.join(ROOT, cap))
        name = os.path.relpath(os.path.abspath(os.path.join(ROOT, cap)), ROOT)
        out, st, params = case_frames(name, frames, addrs, int(s), 0)
        write_pcap(a.write, [out])
        print(f"{a.write}: {st.frames} frames, params {params}, {vars(st)}")
        return 0

    work = a.work or os.path.join("/tmp", f"segfuzz-{os.getpid()}")
    os.makedirs(work, exist_ok=True)
    rules = a.rules
    if rules is None:
        rules = os.path.join(work, "rules.rules")
        with open(rules, "w") as f:
            for r in ("suricata-rules/mqtt-ml.rules", "suricata-rules/mqtt-ml-events.rules"):
                with open(os.path.join(ROOT, r)) as g:
                    f.write(g.read())
    env = Env(a.plugin, rules)
    extra = [x for kv in a.fuzz_set for x in ("--set", kv)]
    case_log = open(a.case_log, "a") if a.case_log else None
    totals = Totals()
    started = time.monotonic()

    if a.replay:
        cap, s = a.replay.rsplit(":", 1)
        seed = Seed(os.path.join(ROOT, cap), env, work)
        run_batch(env, seed, [int(s)], work, totals, a.failures, case_log, extra)
    else:
        paths = expand(a.captures)
        if not paths:
            print("segfuzz: no captures", file=sys.stderr)
            return 2
        seeds = [Seed(p, env, work) for p in paths]
        totals.runs += len(seeds)
        next_seed = {s.name: a.seed_start for s in seeds}
        done = False
        while not done:
            for seed in seeds:
                if a.cases is not None and next_seed[seed.name] >= a.seed_start + a.cases:
                    continue
                # as many cases as fit the frame budget (re-segmenting about triples the frames)
                per = max(1, min(a.max_per_run, a.per_run_frames // max(1, 3 * len(seed.frames))))
                if a.cases is not None:
                    per = min(per, a.seed_start + a.cases - next_seed[seed.name])
                batch = list(range(next_seed[seed.name], next_seed[seed.name] + per))
                next_seed[seed.name] += per
                run_batch(env, seed, batch, work, totals, a.failures, case_log, extra)
                if case_log:
                    case_log.flush()
                if a.seconds is not None and time.monotonic() - started >= a.seconds:
                    done = True
                    break
            if a.cases is not None and all(next_seed[s.name] >= a.seed_start + a.cases
                                           for s in seeds):
                done = True
            if a.seconds is None and a.cases is None:
                done = True
        print("segfuzz: seeds " + ", ".join(f"{s.name} {a.seed_start}..{next_seed[s.name] - 1}"
                                            for s in seeds))
    elapsed = time.monotonic() - started
    st = totals.st
    print(f"segfuzz: {totals.cases} cases, {totals.runs} Suricata runs, {totals.flows} connections, "
          f"{totals.messages} messages checked, {totals.frames} frames "
          f"({st['split']} segments split into pieces, {st['one_byte']} one-byte pieces, "
          f"{st['reordered']} reordered, {st['repeats']} repeated, {st['overlaps']} overlapping), "
          f"{elapsed:.0f} s; failed cases: {totals.failed_cases}")
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if totals.failed_cases else 0


if __name__ == "__main__":
    sys.exit(main())
