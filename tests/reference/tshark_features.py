#!/usr/bin/env python3
"""Feature oracle: the plugin's feature vectors recomputed from Wireshark's fields.

training/verify.py checks that the plugin scores the features it logs as Python does; it cannot
see a feature that the plugin computes wrongly. This module computes the features again, from
what tshark shows of a capture (TCP stream, addresses, frame time, message type, length, QoS, DUP,
CONNACK code, user name and password), following the definitions of docs/features.md (feature
schema v4) and nothing of the plugin's code, and compares them message by message with the
`features` array the plugin logs with `log-features: yes` (transformed, not scaled).

Messages are paired as compare.py pairs them (per connection and direction, in order). Each
feature is checked exactly, within TOLERANCE, or between two bounds where the definition depends
on something tshark cannot see:

  msgtype, direction, refused, flow_msg_rate, flow_byte_rate, flow_failed_auth,
  qos2_pending_age                                  exact
  src_failed_auth, src_refused_secrets              exact, or bounded for events 50-60 s old:
                                                    the 60 s window is kept in 10 s steps, so
                                                    such an event may have left it already
  src_open                                          bounded: a connection ends for the plugin
                                                    when its refused CONNACK or DISCONNECT is
                                                    seen (exact) or when Suricata frees the flow
                                                    after TCP closes, a moment tshark cannot
                                                    see; it is counted open until then at most,
                                                    and at least until its first FIN or RST
  malformed                                         not checked: it is 1 for any of the plugin's
                                                    malformation events (reserved bits, invalid
                                                    UTF-8, ...), which Wireshark does not
                                                    report, while Wireshark's "Malformed Packet"
                                                    also marks its own misreadings (quirks.py)

Usage:
  tshark_features.py --pcap P --eve EVE.json [--ports 1883] [--out-of-order]
                     [--schema SCHEMA.json] [--json OUT]

--schema takes `mqtt-ml schema` output and fails when its names or transforms are not the ones
this oracle computes. Exit status: 0 when every feature of every paired message agrees and no
message is on one side only; 1 otherwise; 2 on usage or tshark errors.
"""

import argparse
import bisect
import collections
import json
import math
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import tshark_messages as tm  # noqa: E402

# docs/features.md, schema v3: name and transform, in model input order.
FEATURES = (
    ("msgtype", "identity"), ("direction", "identity"), ("malformed", "identity"),
    ("refused", "identity"), ("flow_msg_rate", "log1p"), ("flow_byte_rate", "log1p"),
    ("flow_failed_auth", "log1p"), ("qos2_pending_age", "log1p"),
    ("src_failed_auth", "log1p"), ("src_refused_secrets", "log1p"), ("src_open", "log1p"),
)
NAMES = tuple(n for n, _ in FEATURES)
NOT_CHECKED = {
    "malformed": "1 for any of the plugin's malformation events, most of which Wireshark does "
                 "not report, while its 'Malformed Packet' also marks its own misreadings",
}
RATE_TAU = 10.0          # s, time constant of the decayed rates
WINDOW = 60.0            # s, per-client window (source-window default)
WINDOW_STEP = 10.0       # s, the window moves in steps of a sixth of it
SECRETS_CAP = 32         # distinct refused credentials counted at most
TOLERANCE = 1e-6         # absolute, plus the same relative to the value (the log is f32)

CONNECT, CONNACK, PUBLISH, PUBCOMP, DISCONNECT = 1, 2, 3, 7, 14
TCP_FIN, TCP_RST, TCP_ACK = 0x01, 0x04, 0x10
NEVER_ACKED = float("inf")   # parse position of data no packet acknowledges


def varint_size(n):
    """Bytes of an MQTT variable byte integer holding n."""
    size = 1
    while n >= 128:
        n >>= 7
        size += 1
    return size


def wire_length(m):
    """Bytes of the message on the wire, fixed header included; None when tshark has no length."""
    n = m.get("len")
    return None if not isinstance(n, int) else 1 + varint_size(n) + n


class Decayed:
    """An event count decaying with time constant RATE_TAU; divided by it, a rate."""

    def __init__(self):
        self.value, self.at = 0.0, None

    def add(self, amount, t):
        if self.at is not None:
            self.value *= math.exp(-max(0.0, t - self.at) / RATE_TAU)
        self.value += amount
        self.at = t if self.at is None else max(self.at, t)
        return self.value / RATE_TAU


class Connection:
    """What the definitions need to know about one TCP connection."""

    def __init__(self):
        self.msgs, self.bytes = Decayed(), Decayed()
        self.bytes_known = True
        self.refused = 0
        self.qos2_started = collections.deque()
        self.connected = False      # its first CONNECT was seen
        self.ended = False          # refused, or DISCONNECT from the client
        self.credentials = None     # (user name, password) of its last CONNECT
        self.tcp_end = None         # time of its first FIN or RST
        self.client = None          # the client's address


class Client:
    """Per client address: event times, for counts within the window."""

    def __init__(self):
        self.connects, self.failed, self.secrets = [], [], {}


def window_count(times, t):
    """(certain, possible) number of event times inside the window ending at t."""
    return (sum(1 for e in times if t - e < WINDOW - WINDOW_STEP),
            sum(1 for e in times if t - e < WINDOW))


def oracle(msgs, tcp_ends):
    """Compute each message's features (raw, before transforms) in capture order.

    `msgs`: tshark messages (tshark_messages.py); `tcp_ends`: {tcp stream: time of its first
    FIN or RST}. Sets m["oracle"] = {name: (low, high)} (low == high when exact) and returns the
    messages. A value is None where tshark lacks what it needs (a message it could not frame)."""
    conns = collections.defaultdict(Connection)
    clients = collections.defaultdict(Client)
    order = sorted(msgs, key=lambda m: (m.get("parsed_at", m["frame"]), m["frame"],
                                        m["frame_index"]))
    for m in order:
        t = m["frame_time"]
        c = conns[m["tcp_stream"]]
        c.tcp_end = tcp_ends.get(m["tcp_stream"])
        to_server = m["direction"] == "to_server"
        client_addr = m["src"] if to_server else m["dst"]
        c.client = client_addr
        cl = clients[client_addr]
        mtype = m.get("msgtype")
        code = m.get("conack_val") if mtype == CONNACK else None

        # The connection: rates over both directions, refusals, QoS 2 exchanges.
        msg_rate = c.msgs.add(1.0, t)
        size = wire_length(m)
        c.bytes_known = c.bytes_known and size is not None
        byte_rate = c.bytes.add(size, t) if c.bytes_known else None
        refused = code is not None and code != 0
        # Failed logins: refusals of the credentials only (MQTT 3.1.1 section 3.2.2.3 codes 4
        # and 5; MQTT 5.0 section 3.2.2.2 reason codes 0x86, 0x87, 0x8A, 0x8C).
        auth_refused = refused and code in (4, 5, 0x86, 0x87, 0x8A, 0x8C)
        c.refused += int(auth_refused)
        if mtype == PUBLISH and m.get("qos") == 2 and not m.get("dupflag"):
            c.qos2_started.append(t)
        elif mtype == PUBCOMP and c.qos2_started:
            c.qos2_started.popleft()
        qos2_age = t - c.qos2_started[0] if c.qos2_started else 0.0

        # The client address, across its connections.
        if mtype == CONNECT and to_server:
            c.credentials = (m.get("username"), m.get("passwd"))
            if not c.connected:
                c.connected = True
                cl.connects.append(t)
        if auth_refused and not to_server:
            cl.failed.append(t)
            if c.credentials is not None:
                cl.secrets[c.credentials] = t
        failed = window_count(cl.failed, t)
        secrets = window_count(list(cl.secrets.values()), t)
        secrets = (min(secrets[0], SECRETS_CAP), min(secrets[1], SECRETS_CAP))
        open_now = open_bounds(conns, client_addr, t, m["tcp_stream"])
        if m.get("parsed_at") == NEVER_ACKED:
            # Parsed while Suricata tears the flows down at the end: any other may be gone.
            own = int(c.connected and not c.ended)
            open_now = (min(open_now[0], own), open_now[1])
        # A refusal or a DISCONNECT ends the connection after the message that says so.
        if (refused and not to_server) or (mtype == DISCONNECT and to_server):
            c.ended = True

        exact = lambda v: (v, v)  # noqa: E731
        m["oracle"] = {
            "msgtype": exact(mtype),
            "direction": exact(0 if to_server else 1),
            "refused": exact(int(refused)),
            "flow_msg_rate": exact(msg_rate),
            "flow_byte_rate": exact(byte_rate),
            "flow_failed_auth": exact(c.refused),
            "qos2_pending_age": exact(qos2_age),
            "src_failed_auth": failed,
            "src_refused_secrets": secrets,
            "src_open": open_now,
        }
    return msgs


def open_bounds(conns, client_addr, t, current_stream):
    """(fewest, most) connections of the address open at t: CONNECT seen, not ended by a refusal
    or a DISCONNECT; one whose TCP has closed may or may not have been let go yet."""
    low = high = 0
    for stream, c in conns.items():
        if c.client != client_addr or not c.connected or c.ended:
            continue
        high += 1
        if stream == current_stream or c.tcp_end is None or c.tcp_end > t:
            low += 1
    return (low, high)


def transform(kind, v):
    return v if kind == "identity" else math.log1p(max(v, 0.0))


def check_pair(t, r):
    """Per feature: (name, oracle low, oracle high, plugin value, agrees) for one pair."""
    vec = r["m"].get("features")
    out = []
    for i, (name, kind) in enumerate(FEATURES):
        if name in NOT_CHECKED:
            continue
        low, high = t["oracle"][name]
        got = vec[i] if isinstance(vec, list) and i < len(vec) else None
        if low is None or high is None:
            out.append((name, None, None, got, None))
            continue
        lo, hi = transform(kind, low), transform(kind, high)
        ok = isinstance(got, (int, float)) and \
            lo - TOLERANCE * (1 + abs(lo)) <= got <= hi + TOLERANCE * (1 + abs(hi))
        out.append((name, lo, hi, got, ok))
    return out


def tcp_packets(pcap, ports):
    """Every TCP packet's stream, frame, time, sender, sequence and acknowledgement numbers and
    flags, from a second, light tshark pass: {stream: [packet dict, ...]} in frame order."""
    cmd = ["tshark", "-n", "-r", pcap, "-Y", "tcp", "-T", "fields", "-e", "tcp.stream",
           "-e", "frame.number", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "ipv6.src",
           "-e", "tcp.srcport", "-e", "tcp.nxtseq", "-e", "tcp.ack", "-e", "tcp.flags"]
    for port in ports:
        cmd += ["-d", "tcp.port==%d,mqtt" % port]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise tm.TsharkError("tshark failed: %s" % p.stderr.strip()[-300:])
    streams = collections.defaultdict(list)
    for line in p.stdout.splitlines():
        f = line.split("\t")
        if len(f) != 9 or not f[0]:
            continue
        streams[int(f[0])].append({
            "frame": int(f[1]), "time": tm.epoch_micros(f[2]),
            "sender": (compare.norm_ip(f[3] or f[4]), int(f[5])),
            "nxtseq": int(f[6]) if f[6] else None, "ack": int(f[7]) if f[7] else None,
            "flags": int(f[8], 16),
        })
    return streams


def tcp_end_times(packets):
    """{tcp stream: time of its first FIN or RST}."""
    ends = {}
    for stream, pkts in packets.items():
        for p in pkts:
            if p["flags"] & (TCP_FIN | TCP_RST):
                ends[stream] = p["time"]
                break
    return ends


def set_parse_order(msgs, packets):
    """Sets m["parsed_at"]: the frame at which Suricata parses the message.

    In IDS mode Suricata hands a direction's data to the parser when the other side acknowledges
    it (README, "How it works"), so counters shared between connections (the client address's)
    see messages in the order of those acknowledgements, not of the data. The message's data is
    acknowledged by the first packet of the other side whose ACK number reaches the end of the
    segment that carried the message's last byte; data never acknowledged is parsed when the
    flow ends, after everything else (NEVER_ACKED)."""
    frames = {}
    acks = {}   # (stream, receiver) -> (frames, running maximum of ACK numbers)
    for stream, pkts in packets.items():
        for p in pkts:
            frames[p["frame"]] = p
        senders = {p["sender"] for p in pkts}
        for side in senders:
            fr, run, top = [], [], -1
            for p in pkts:
                if p["sender"] != side and p["ack"] is not None and p["flags"] & TCP_ACK:
                    top = max(top, p["ack"])
                    fr.append(p["frame"])
                    run.append(top)
            acks[(stream, side)] = (fr, run)
    never = NEVER_ACKED
    for m in msgs:
        carrier = m.get("ws_last_segment", {}).get("frame", m["frame"])
        p = frames.get(carrier)
        m["parsed_at"] = never
        if p is None or p["nxtseq"] is None:
            continue
        fr, run = acks.get((m["tcp_stream"], p["sender"]), ([], []))
        i = bisect.bisect_right(fr, carrier)
        j = bisect.bisect_left(run, p["nxtseq"], lo=i)
        if j < len(fr):
            m["parsed_at"] = fr[j]


def schema_problems(schema):
    """Differences between `mqtt-ml schema` output and the features this oracle computes."""
    problems = []
    if schema.get("version") != 4:
        problems.append("schema version %s, the oracle follows v4" % schema.get("version"))
    got = list(zip(schema.get("features", []), schema.get("transforms", [])))
    if got != list(FEATURES):
        problems.append("schema features %s differ from the oracle's %s" % (got, list(FEATURES)))
    return problems


def run(msgs, records, packets):
    """Pair, compute and compare; returns the summary dict."""
    t_conns = compare.tshark_connections(msgs)   # also writes one spelling per address
    set_parse_order(msgs, packets)
    oracle(msgs, tcp_end_times(packets))
    pairs, t_only, e_only = compare.align_all(t_conns, compare.eve_connections(records))
    # Records Wireshark shows nothing of, for reasons quirks.py documents and tests (a message
    # cut by the end of its stream, a header it cannot frame): nothing to compare them with.
    excused = compare.excused_eve_only(pairs, e_only)
    e_only = [r for r in e_only if id(r) not in excused]
    stats = {name: {"checked": 0, "exact": 0, "bounded": 0, "failed": 0, "unknown": 0,
                    "nonzero": 0, "max_abs_diff": 0.0} for name in NAMES if name not in NOT_CHECKED}
    failures = []
    no_features = 0
    for t, r in pairs:
        if not isinstance(r["m"].get("features"), list):
            no_features += 1
            continue
        for name, lo, hi, got, ok in check_pair(t, r):
            s = stats[name]
            if ok is None:
                s["unknown"] += 1
                continue
            s["checked"] += 1
            s["exact" if lo == hi else "bounded"] += 1
            s["nonzero"] += int(hi != 0)
            if lo == hi and isinstance(got, (int, float)):
                s["max_abs_diff"] = max(s["max_abs_diff"], abs(got - lo))
            if not ok:
                s["failed"] += 1
                if len(failures) < 20:
                    failures.append({"feature": name, "oracle": [lo, hi], "plugin": got,
                                     "tshark_msg": compare.describe_tshark(t),
                                     "eve_msg": compare.describe_eve(r)})
    failed = sum(s["failed"] for s in stats.values())
    return {
        "messages_tshark": len(msgs), "records": len(records), "paired": len(pairs),
        "tshark_only": len(t_only), "eve_only": len(e_only), "eve_only_excused": len(excused),
        "without_features": no_features,
        "features": stats, "not_checked": NOT_CHECKED, "failures": failures,
        "ok": failed == 0 and not t_only and not e_only and no_features == 0 and bool(pairs),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pcap", required=True)
    parser.add_argument("--eve", required=True, help="EVE JSON lines written with log-features")
    parser.add_argument("--ports", type=tm.parse_ports, default=tm.DEFAULT_PORTS)
    parser.add_argument("--out-of-order", action="store_true",
                        help="let tshark reassemble segments that arrive out of order")
    parser.add_argument("--schema", help="`mqtt-ml schema` output to check against")
    parser.add_argument("--json", metavar="OUT", help="also write the summary as JSON")
    args = parser.parse_args(argv)
    notes = []
    try:
        msgs = tm.load_messages(args.pcap, args.ports, notes, args.out_of_order)
        packets = tcp_packets(args.pcap, args.ports)
        records, _ = compare.load_eve(args.eve)
    except (tm.TsharkError, OSError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    summary = run(msgs, records, packets)
    if args.schema:
        with open(args.schema, encoding="utf-8") as fh:
            problems = schema_problems(json.load(fh))
        summary["schema_problems"] = problems
        summary["ok"] = summary["ok"] and not problems
    summary["pcap"] = args.pcap
    print_report(summary)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2, sort_keys=True)
            fh.write("\n")
    return 0 if summary["ok"] else 1


def print_report(s):
    print("pcap: %s" % s["pcap"])
    print("messages: tshark %d, records %d, paired %d, tshark-only %d, eve-only %d, "
          "without features %d" % (s["messages_tshark"], s["records"], s["paired"],
                                   s["tshark_only"], s["eve_only"], s["without_features"]))
    for name, st in s["features"].items():
        print("  %-20s checked %6d (exact %6d, bounded %6d, not 0 %6d), failed %d, unknown %d, "
              "max |diff| %.3g" % (name, st["checked"], st["exact"], st["bounded"],
                                   st["nonzero"], st["failed"], st["unknown"],
                                   st["max_abs_diff"]))
    for name, why in s["not_checked"].items():
        print("  %-20s not checked: %s" % (name, why))
    for p in s.get("schema_problems", []):
        print("  SCHEMA %s" % p)
    for f in s["failures"]:
        print("  FAIL %s: oracle %s, plugin %s\n       tshark: %s\n       eve:    %s" % (
            f["feature"], f["oracle"], f["plugin"], f["tshark_msg"], f["eve_msg"]))
    print("RESULT: %s" % ("PASS" if s["ok"] else "FAIL"))


if __name__ == "__main__":
    sys.exit(main())
