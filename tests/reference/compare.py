#!/usr/bin/env python3
"""Agreement test: the plugin's `mqtt_ml` EVE records against Wireshark's dissection.

Both sides describe the same capture message by message. tshark's messages come from
tshark_messages.py; the EVE side is every record with "event_type": "mqtt_ml". Messages are
aligned per TCP connection and direction, in order (tshark: frame order, then order within the
frame; EVE: `mqtt_ml.msg_index`), and every field both sides produce is compared: exactly for
integers, strings, booleans and lists, and for the packet context `tcp.ts` against the frame time
within 1e-6 s, `tcp.flags` / `tcp.len` against the frame's TCP header.

Usage:
  compare.py --pcap P --eve EVE.json [--ports 1883,...] [--out-of-order] [--quirks] [--json OUT]
             [--max-diffs N]

Exit status: 0 when every compared field agrees, no message is on one side only and no field of
an aligned message is on one side only unless quirks.NOT_PRODUCED says that side never has it (with
--quirks, disagreements listed in quirks.py are excused); 1 otherwise; 2 on usage or tshark
errors. A connection the plugin refused as not MQTT (no record at all, and tshark's first message
starts with a byte no MQTT sender may send) is counted apart (`tshark_refused`), not as a failure.
"""

import argparse
import collections
import ipaddress
import json
import os
import sys

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tshark_messages as tm  # noqa: E402
from quirks import ONE_SIDED_QUIRKS, QUIRKS, not_produced  # noqa: E402

TS_TOLERANCE = 1e-6
# EVE keys that are not Wireshark fields: derived, flow/source context, or compared separately.
EVE_NOT_COMPARED = frozenset({
    "direction", "msg_index", "msgtype_name", "protocol_version", "malformed", "events",
    "msg_truncated", "flow", "src", "tcp",
})
# EVE `tcp` context key -> tshark message key.
TCP_CONTEXT = (("flags", "tcp_flags"), ("len", "tcp_len"))


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

def norm_ip(text):
    """One spelling per address, so tshark's and EVE's IPv6 forms compare equal."""
    try:
        return ipaddress.ip_address(text).compressed
    except (ValueError, TypeError):
        return text


def endpoint_pair(a, b):
    """Orientation-free connection key: EVE may write either side as `src`."""
    return tuple(sorted([a, b], key=lambda e: (str(e[0]), e[1] or 0)))


def load_eve(path):
    """All `mqtt_ml` records of an EVE file, with their endpoints; counts unreadable lines."""
    records, bad = [], 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if ev.get("event_type") != "mqtt_ml" or not isinstance(ev.get("mqtt_ml"), dict):
                continue
            src = (norm_ip(ev.get("src_ip")), ev.get("src_port"))
            dst = (norm_ip(ev.get("dest_ip")), ev.get("dest_port"))
            records.append({"m": ev["mqtt_ml"], "src": src, "dst": dst, "line": lineno,
                            "flow_id": ev.get("flow_id"), "key": endpoint_pair(src, dst)})
    return records, bad


def tshark_connections(msgs):
    """tshark messages grouped per TCP stream: {endpoint pair: [stream message lists]}."""
    streams = collections.OrderedDict()
    for m in msgs:
        m["src"], m["dst"] = norm_ip(m["src"]), norm_ip(m["dst"])
        streams.setdefault(m["tcp_stream"], []).append(m)
    by_key = collections.OrderedDict()
    for lst in streams.values():
        lst.sort(key=lambda m: (m["frame"], m["frame_index"]))
        key = endpoint_pair((lst[0]["src"], lst[0]["sport"]), (lst[0]["dst"], lst[0]["dport"]))
        by_key.setdefault(key, []).append(lst)
    for lists in by_key.values():
        lists.sort(key=lambda l: l[0]["frame_time"])
    return by_key


def eve_ts(rec):
    """The record's packet time (`tcp.ts`), used to order flows that reuse one 4-tuple."""
    tcp = rec["m"].get("tcp")
    return tcp.get("ts") if isinstance(tcp, dict) and isinstance(tcp.get("ts"), (int, float)) \
        else None


def eve_connections(records):
    """EVE records grouped per flow (flow_id): {endpoint pair: [flow record lists]}."""
    flows = collections.OrderedDict()
    for r in records:
        flows.setdefault((r["key"], r["flow_id"]), []).append(r)
    by_key = collections.OrderedDict()
    for (key, _), lst in flows.items():
        lst.sort(key=lambda r: (r["m"].get("msg_index", 0), r["line"]))
        by_key.setdefault(key, []).append(lst)
    for lists in by_key.values():
        lists.sort(key=lambda l: (eve_ts(l[0]) is None, eve_ts(l[0]) or 0, l[0]["line"]))
    return by_key


# ---------------------------------------------------------------------------------------------
# Alignment
# ---------------------------------------------------------------------------------------------

RESYNC_WINDOW = 64


def signature(fields, ts):
    """What must match for two messages to be the same one: type, length, packet id and, when
    the EVE side logs it for every message, the capture time in microseconds."""
    return (fields.get("msgtype"), fields.get("len"), fields.get("msgid"),
            None if ts is None else round(ts * 1e6))


def resync(t_sigs, e_sigs, i, j):
    """After a mismatch at (i, j), the smallest skip that lines the lists up again.

    Returns ("t", k) when the next k tshark messages have no EVE counterpart, ("e", k) for the
    reverse, or None when nothing within RESYNC_WINDOW matches.
    """
    for k in range(1, RESYNC_WINDOW + 1):
        if i + k < len(t_sigs) and t_sigs[i + k] == e_sigs[j]:
            return ("t", k)
        if j + k < len(e_sigs) and t_sigs[i] == e_sigs[j + k]:
            return ("e", k)
    return None


def same_message(t_sigs, e_sigs, i, j):
    """Treat (i, j) as one message that differs in some field: the signatures match, or the
    lists line up again right after it (a substitution, not a gap), or both end here."""
    if t_sigs[i] == e_sigs[j]:
        return True
    if i + 1 == len(t_sigs) and j + 1 == len(e_sigs):
        return True
    return i + 1 < len(t_sigs) and j + 1 < len(e_sigs) and t_sigs[i + 1] == e_sigs[j + 1]


def gave_up(t):
    """A message Wireshark marked malformed without decoding even its type."""
    return bool(t.get("ws_malformed")) and "msgtype" not in t


def align_direction(t_list, e_list):
    """Pair two ordered message lists of one direction.

    A plain zip would shift every later pair after one missing message. Walking both lists and,
    where they stop matching, looking a bounded distance ahead for the point where they line up
    again keeps the pairs right and leaves the gap as one-sided messages, in linear time even for
    floods of identical messages (the capture time tells those apart). Where nothing lines up
    the messages are paired in order and their field differences reported.
    Returns (pairs, tshark_only, eve_only).
    """
    use_ts = bool(e_list) and all(eve_ts(r) is not None for r in e_list)
    t_sigs = [signature(m, m["frame_time"] if use_ts else None) for m in t_list]
    e_sigs = [signature(r["m"], eve_ts(r) if use_ts else None) for r in e_list]
    # Where Wireshark gives up on a message ("Malformed Packet", no fields at all), the plugin's
    # record of the same segment stands for it if the plugin flagged it malformed too.
    given_up = {round(m["frame_time"] * 1e6) for m in t_list if gave_up(m)}
    for k, m in enumerate(t_list):
        if gave_up(m):
            t_sigs[k] = ("wireshark-gave-up", round(m["frame_time"] * 1e6))
    for k, r in enumerate(e_list):
        ts = eve_ts(r)
        if ts is not None and r["m"].get("malformed") is True and round(ts * 1e6) in given_up:
            e_sigs[k] = ("wireshark-gave-up", round(ts * 1e6))
    pairs, t_only, e_only = [], [], []
    i = j = 0
    while i < len(t_list) and j < len(e_list):
        skip = None if same_message(t_sigs, e_sigs, i, j) else resync(t_sigs, e_sigs, i, j)
        if skip is None:
            pairs.append((t_list[i], e_list[j]))
            i, j = i + 1, j + 1
        elif skip[0] == "t":
            t_only.extend(t_list[i:i + skip[1]])
            i += skip[1]
        else:
            e_only.extend(e_list[j:j + skip[1]])
            j += skip[1]
    t_only.extend(t_list[i:])
    e_only.extend(e_list[j:])
    return pairs, t_only, e_only


def align_connection(t_msgs, e_recs):
    """Align one connection per direction; EVE direction comes from `mqtt_ml.direction`."""
    pairs, t_only, e_only = [], [], []
    for direction in ("to_server", "to_client"):
        t_dir = [m for m in t_msgs if m["direction"] == direction]
        e_dir = [r for r in e_recs if r["m"].get("direction") == direction]
        p, t, e = align_direction(t_dir, e_dir)
        pairs += p
        t_only += t
        e_only += e
    e_only += [r for r in e_recs if r["m"].get("direction") not in ("to_server", "to_client")]
    return pairs, t_only, e_only


def align_all(t_conns, e_conns):
    """Pair connections (same endpoints, in time order), then messages within each."""
    pairs, t_only, e_only = [], [], []
    for key in list(t_conns) + [k for k in e_conns if k not in t_conns]:
        t_lists, e_lists = t_conns.get(key, []), e_conns.get(key, [])
        for i in range(max(len(t_lists), len(e_lists))):
            t_msgs = t_lists[i] if i < len(t_lists) else []
            e_recs = e_lists[i] if i < len(e_lists) else []
            p, t, e = align_connection(t_msgs, e_recs)
            pairs += p
            t_only += t
            e_only += e
    return pairs, t_only, e_only


# Flag nibble MQTT requires of each message type (PUBLISH: any but QoS 3; 0 and 15 reserved in
# 3.x, 15 is AUTH in 5.0 with flags 0). From the MQTT specifications, not from the plugin.
REQUIRED_FLAGS = {1: 0, 2: 0, 4: 0, 5: 0, 6: 2, 7: 0, 8: 2, 9: 0, 10: 2, 11: 0, 12: 0, 13: 0,
                  14: 0, 15: 0}


def not_mqtt_first_byte(hdrflags):
    """True when a message's first byte is one no MQTT sender may send."""
    if not isinstance(hdrflags, int):
        return False
    msg_type, flags = hdrflags >> 4, hdrflags & 0x0F
    if msg_type == 3:
        return (flags >> 1) & 3 == 3
    return REQUIRED_FLAGS.get(msg_type) != flags


def refused_connections(t_conns, e_conns):
    """Connections the plugin refused as not MQTT: no EVE record at all, and the first message
    tshark decoded starts with a byte no MQTT sender may send (tshark decodes any bytes on an
    MQTT port as MQTT). Their tshark messages are counted apart, not as one-sided messages."""
    refused = set()
    for key, lists in t_conns.items():
        if e_conns.get(key):
            continue
        for lst in lists:
            first = min(lst, key=lambda m: (m["frame"], m["frame_index"]))
            if not_mqtt_first_byte(first.get("hdrflags")):
                refused.add(first["tcp_stream"])
    return refused


# ---------------------------------------------------------------------------------------------
# Field comparison
# ---------------------------------------------------------------------------------------------

def flatten(d, prefix=""):
    """Nested dicts (MQTT 5 property lists) -> dotted keys; lists stay whole values."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def tshark_fields(m):
    """MQTT fields of a tshark message, without the alignment/context keys."""
    return flatten({k: v for k, v in m.items() if k not in tm.META_KEYS})


def eve_fields(r):
    """Wire fields of an EVE record, without the context EVE adds (flow, src, tcp, ...)."""
    return flatten({k: v for k, v in r["m"].items() if k not in EVE_NOT_COMPARED})


def same(a, b):
    """Exact equality that also tells `true` from `1` (JSON types must match too)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def same_msg(t_msg, e_msg, truncated):
    """The payload text: when EVE cut it (`msg_truncated`), its text must be a strict prefix."""
    if truncated and isinstance(e_msg, str) and isinstance(t_msg, str):
        return len(e_msg) < len(t_msg) and t_msg.startswith(e_msg)
    return same(t_msg, e_msg)


def compare_pair(t, r):
    """Yield (field, tshark value, eve value, agrees) for every field both sides have."""
    tf, ef = tshark_fields(t), eve_fields(r)
    for key in sorted(set(tf) & set(ef)):
        if key == "msg":
            yield key, tf[key], ef[key], same_msg(tf[key], ef[key], r["m"].get("msg_truncated"))
        else:
            yield key, tf[key], ef[key], same(tf[key], ef[key])
    if gave_up(t):
        # Nothing of the message to compare but that both sides call it broken.
        yield "malformed", True, r["m"].get("malformed"), r["m"].get("malformed") is True
    tcp = r["m"].get("tcp")
    if not isinstance(tcp, dict):
        return
    if "ts" in tcp:
        ts = tcp["ts"]
        ok = isinstance(ts, (int, float)) and abs(ts - t["frame_time"]) <= TS_TOLERANCE
        yield "tcp.ts", t["frame_time"], tcp["ts"], ok
    for eve_key, t_key in TCP_CONTEXT:
        if eve_key in tcp:
            yield "tcp." + eve_key, t[t_key], tcp[eve_key], same(t[t_key], tcp[eve_key])


def presence(t, r):
    """Field names only one side produced for this pair: (tshark only, EVE only)."""
    tf, ef = set(tshark_fields(t)), set(eve_fields(r))
    return tf - ef, ef - tf


def one_sided_quirk(side, fields, previous_excused=False):
    """The name of the ONE_SIDED_QUIRKS entry excusing a message present on one side only.
    An entry with `after_one_sided` applies only when `previous_excused`: the message before it
    on the same flow and direction is itself a one-sided message excused by a quirk."""
    for name, q in ONE_SIDED_QUIRKS.items():
        if q.get("after_one_sided") and not previous_excused:
            continue
        if q["side"] == side and q["match"](fields):
            return name
    return None


def excused_eve_only(pairs, e_only):
    """The EVE-only records a one-sided quirk excuses, as a set of ids. Records are walked per
    flow and direction in `msg_index` order, so that an entry with `after_one_sided` sees
    whether the record just before was excused."""
    by_flow = collections.defaultdict(list)
    for r in [r for _, r in pairs] + list(e_only):
        by_flow[(r.get("key"), r.get("flow_id"), r["m"].get("direction"))].append(r)
    one_sided = {id(r) for r in e_only}
    excused = set()
    for recs in by_flow.values():
        recs.sort(key=lambda r: (r["m"].get("msg_index", 0), r.get("line", 0)))
        previous = False
        for r in recs:
            ok = id(r) in one_sided and one_sided_quirk("eve-only", r["m"], previous) is not None
            if ok:
                excused.add(id(r))
            previous = ok
    return excused


def excused(field, t, tv, ev, use_quirks):
    """Whether quirks.py lists this disagreement as a verified tshark behaviour."""
    if not use_quirks or field not in QUIRKS:
        return False
    q = QUIRKS[field]
    when = q.get("when", {})
    if not all(same(t.get(k), v) for k, v in when.items()):
        return False
    if "match_msg" in q:
        return bool(q["match_msg"](t, tv, ev))
    match = q.get("match")
    return match is None or bool(match(tv, ev))


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def describe_tshark(t):
    """One line that finds the message in Wireshark (stream, frame, position in frame)."""
    return "stream %s %s:%s -> %s:%s frame %s#%s %s %s" % (
        t["tcp_stream"], t["src"], t["sport"], t["dst"], t["dport"], t["frame"],
        t["frame_index"], t["direction"], tm.MSGTYPE_NAMES.get(t.get("msgtype"), "?"))


def describe_eve(r):
    """One line that finds the record in the EVE file (flow, msg_index, line number)."""
    m = r["m"]
    return "flow %s %s:%s -> %s:%s msg_index %s %s %s (eve line %d)" % (
        r["flow_id"], r["src"][0], r["src"][1], r["dst"][0], r["dst"][1], m.get("msg_index"),
        m.get("direction"), tm.MSGTYPE_NAMES.get(m.get("msgtype"), "?"), r["line"])


def short(v, limit=80):
    """A value as JSON, cut to keep report lines readable."""
    text = json.dumps(v, sort_keys=True)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def client_endpoint(t):
    """The MQTT client's endpoint of the tshark message's connection."""
    if t["direction"] == "to_server":
        return (t["src"], t["sport"])
    return (t["dst"], t["dport"])


def evaluate(pairs, t_only, e_only, use_quirks, max_diffs, refused=frozenset()):
    """Tally the comparison into the summary dict (without file names and tshark notes)."""
    t_refused = [t for t in t_only if t["tcp_stream"] in refused]
    t_only = [t for t in t_only if t["tcp_stream"] not in refused]
    per_field = collections.defaultdict(lambda: {"compared": 0, "agreeing": 0, "excused": 0})
    t_extra, e_extra = collections.Counter(), collections.Counter()
    src_is_client = collections.Counter()
    diffs, n_diffs = [], 0
    missing, n_missing = [], 0
    for t, r in pairs:
        src_is_client["yes" if r["src"] == client_endpoint(t) else "no"] += 1
        only_t, only_e = presence(t, r)
        t_extra.update(only_t)
        e_extra.update(only_e)
        # A field one side lacks fails unless quirks.NOT_PRODUCED says that side never has it
        # for such a message.
        for side, fields in (("eve", only_t), ("tshark", only_e)):
            for field in sorted(fields):
                if not_produced(side, field, t, r["m"]):
                    continue
                n_missing += 1
                if len(missing) < max_diffs:
                    missing.append({"field": field, "missing_on": side,
                                    "tshark_msg": describe_tshark(t), "eve_msg": describe_eve(r)})
        for field, tv, ev, ok in compare_pair(t, r):
            stats = per_field[field]
            stats["compared"] += 1
            if ok:
                stats["agreeing"] += 1
                continue
            exc = excused(field, t, tv, ev, use_quirks)
            stats["excused"] += int(exc)
            n_diffs += 1
            if len(diffs) < max_diffs:
                diffs.append({"field": field, "tshark": tv, "eve": ev, "excused": exc,
                              "tshark_generated": field in t.get("ws_generated", ()),
                              "tshark_msg": describe_tshark(t), "eve_msg": describe_eve(r)})
    # A one-sided message is excused only by a quirk whose test holds for that very record.
    excused_ids = excused_eve_only(pairs, e_only) if use_quirks else set()
    e_excused = [r for r in e_only if id(r) in excused_ids]
    e_only = [r for r in e_only if id(r) not in excused_ids]
    one_sided = [{"side": "tshark-only", "msg": describe_tshark(t)} for t in t_only] + \
                [{"side": "eve-only", "msg": describe_eve(r)} for r in e_only]
    compared = sum(s["compared"] for s in per_field.values())
    agreeing = sum(s["agreeing"] for s in per_field.values())
    n_excused = sum(s["excused"] for s in per_field.values())
    checks = compared + len(one_sided)
    return {
        "messages_tshark": len(pairs) + len(t_only) + len(t_refused),
        "tshark_refused": len(t_refused), "connections_refused": len(refused),
        "messages_eve": len(pairs) + len(e_only) + len(e_excused),
        "aligned": len(pairs), "tshark_only": len(t_only), "eve_only": len(e_only),
        "eve_only_excused": len(e_excused),
        "fields_compared": compared, "fields_agreeing": agreeing, "fields_excused": n_excused,
        "disagreements": n_diffs, "agreement": (agreeing / checks) if checks else 1.0,
        "fields_missing": n_missing, "first_missing": missing,
        "ok": n_diffs == n_excused and not one_sided and n_missing == 0,
        "per_field": {k: per_field[k] for k in sorted(per_field)},
        "fields_only_in_tshark": dict(t_extra.most_common()),
        "fields_only_in_eve": dict(e_extra.most_common()),
        "eve_src_is_client": dict(src_is_client),
        "first_disagreements": diffs, "one_sided": one_sided[:max_diffs],
    }


def print_report(s, max_diffs):
    """Human-readable summary; the JSON summary carries the same numbers."""
    print("pcap: %s\neve:  %s" % (s["pcap"], s["eve"]))
    print("messages: tshark %d, eve %d, aligned %d, tshark-only %d, eve-only %d" % (
        s["messages_tshark"], s["messages_eve"], s["aligned"], s["tshark_only"], s["eve_only"]))
    if s["connections_refused"]:
        print("refused as not MQTT: %d connections (%d tshark messages), each starting with a "
              "byte no MQTT sender may send" % (s["connections_refused"], s["tshark_refused"]))
    print("fields: compared %d, agreeing %d, disagreeing %d (excused by quirks %d); "
          "agreement %.4f%%" % (s["fields_compared"], s["fields_agreeing"], s["disagreements"],
                                s["fields_excused"], 100.0 * s["agreement"]))
    bad = {k: v["compared"] - v["agreeing"] for k, v in s["per_field"].items()
           if v["compared"] != v["agreeing"]}
    if bad:
        print("disagreeing fields: " + ", ".join("%s x%d" % kv for kv in sorted(bad.items())))
    for d in s["first_disagreements"][:max_diffs]:
        tags = (" (excused)" if d["excused"] else "") + \
            (" (tshark value is generated, not on the wire)" if d["tshark_generated"] else "")
        print("  DIFF %s%s\n       tshark: %s | %s\n       eve:    %s | %s" % (
            d["field"], tags, short(d["tshark"]),
            d["tshark_msg"], short(d["eve"]), d["eve_msg"]))
    for o in s["one_sided"][:max_diffs]:
        print("  %s: %s" % (o["side"].upper(), o["msg"]))
    if s["fields_only_in_tshark"] or s["fields_only_in_eve"]:
        print("fields only one side produced: tshark %s; eve %s" % (
            short(s["fields_only_in_tshark"], 300), short(s["fields_only_in_eve"], 300)))
    if s["fields_missing"]:
        print("fields missing on one side and not listed in quirks.NOT_PRODUCED: %d"
              % s["fields_missing"])
    for m in s["first_missing"][:max_diffs]:
        print("  MISSING %s on %s side\n       tshark: %s\n       eve:    %s" % (
            m["field"], m["missing_on"], m["tshark_msg"], m["eve_msg"]))
    if s["eve_src_is_client"].get("no"):
        print("note: %d aligned EVE records have src_ip/src_port = the server, not the client"
              % s["eve_src_is_client"]["no"])
    for line in s["tshark_notes"]:
        print("note: " + line)
    print("RESULT: %s" % ("PASS" if s["ok"] else "FAIL"))


def main(argv=None):
    """CLI entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pcap", required=True)
    parser.add_argument("--eve", required=True, help="EVE JSON lines file (eve.json)")
    parser.add_argument("--ports", type=tm.parse_ports, default=tm.DEFAULT_PORTS,
                        help="TCP ports decoded as MQTT by tshark (default 1883)")
    parser.add_argument("--out-of-order", action="store_true",
                        help="let tshark reassemble segments that arrive out of order (for "
                             "captures where such a segment is late, never lost)")
    parser.add_argument("--quirks", action="store_true",
                        help="excuse disagreements listed in quirks.py")
    parser.add_argument("--json", metavar="OUT", help="also write the summary as JSON to OUT")
    parser.add_argument("--max-diffs", type=int, default=20, metavar="N",
                        help="disagreements and one-sided messages to list (default 20)")
    args = parser.parse_args(argv)

    notes = []
    try:
        t_msgs = tm.load_messages(args.pcap, args.ports, notes, args.out_of_order)
        records, bad_lines = load_eve(args.eve)
    except (tm.TsharkError, OSError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    if bad_lines:
        notes.append("%d lines of %s are not JSON" % (bad_lines, args.eve))
    t_conns, e_conns = tshark_connections(t_msgs), eve_connections(records)
    pairs, t_only, e_only = align_all(t_conns, e_conns)
    summary = evaluate(pairs, t_only, e_only, args.quirks, args.max_diffs,
                       refused_connections(t_conns, e_conns))
    summary.update({"pcap": args.pcap, "eve": args.eve, "ports": list(args.ports),
                    "quirks_applied": args.quirks, "out_of_order": args.out_of_order,
                    "tshark_notes": notes})
    print_report(summary, args.max_diffs)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2, sort_keys=True)
            fh.write("\n")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
