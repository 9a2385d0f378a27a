#!/usr/bin/env python3
"""Wireshark's view of every MQTT message in a capture, named like the `mqtt_ml` EVE record.

This is the reference side of the agreement test: tshark dissects the capture, we read its PDML
output and turn every `<proto name="mqtt">` element (one per MQTT message; a frame can hold several)
into a flat dict whose keys are the EVE names of docs/eve.md (Wireshark name without `mqtt.`, dots
written as `_`). Per-packet context (frame number, capture time, TCP flags and payload length of the
segment in which Wireshark dissected the message) and the connection identity ride along under the
keys in META_KEYS so that compare.py can align and check them.

Usage:
  tshark_messages.py [--ports 1883,18830] [--out-of-order] [--jsonl] PCAP [PCAP ...]

Without --jsonl it prints one summary row per capture (message counts); with --jsonl it writes
every message as one JSON object per line on stdout instead.
Only the Python standard library and the `tshark` binary are needed.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

DEFAULT_PORTS = (1883,)

# Keys that describe where a message was seen rather than what it says; compare.py uses them to
# align messages and to check the `tcp` context, never as MQTT fields.
META_KEYS = frozenset({
    "tcp_stream", "src", "sport", "dst", "dport", "frame", "frame_time", "frame_index",
    "tcp_flags", "tcp_len", "direction", "ws_malformed", "ws_expert", "ws_generated",
    "ws_last_segment",
})

MSGTYPE_NAMES = {
    0: "RESERVED", 1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
    6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
    12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH",
}
CONNECT, PUBLISH, SUBSCRIBE, UNSUBSCRIBE = 1, 3, 8, 10

# Wireshark field -> (EVE key, kind). Kinds: int, bool, str (UTF-8 text), bytes (payload shown as
# printable ASCII plus its length under `<key>_len`).
SIMPLE_FIELDS = {
    "mqtt.hdrflags": ("hdrflags", "int"),
    "mqtt.msgtype": ("msgtype", "int"),
    "mqtt.dupflag": ("dupflag", "bool"),
    "mqtt.qos": ("qos", "int"),
    "mqtt.retain": ("retain", "bool"),
    "mqtt.len": ("len", "int"),
    "mqtt.msgid": ("msgid", "int"),
    "mqtt.proto_len": ("proto_len", "int"),
    "mqtt.protoname": ("protoname", "str"),
    "mqtt.ver": ("ver", "int"),
    "mqtt.conflags": ("conflags", "int"),
    "mqtt.conflag.reserved": ("conflag_reserved", "bool"),
    "mqtt.conflag.cleansess": ("conflag_cleansess", "bool"),
    "mqtt.conflag.willflag": ("conflag_willflag", "bool"),
    "mqtt.conflag.qos": ("conflag_qos", "int"),
    "mqtt.conflag.retain": ("conflag_retain", "bool"),
    "mqtt.conflag.passwd": ("conflag_passwd", "bool"),
    "mqtt.conflag.uname": ("conflag_uname", "bool"),
    "mqtt.kalive": ("kalive", "int"),
    "mqtt.clientid_len": ("clientid_len", "int"),
    "mqtt.clientid": ("clientid", "str"),
    "mqtt.willtopic_len": ("willtopic_len", "int"),
    "mqtt.willtopic": ("willtopic", "str"),
    "mqtt.willmsg_len": ("willmsg_len", "int"),
    "mqtt.willmsg": ("willmsg", "printable"),
    "mqtt.username_len": ("username_len", "int"),
    "mqtt.username": ("username", "str"),
    "mqtt.passwd_len": ("passwd_len", "int"),
    "mqtt.passwd": ("passwd", "str"),
    "mqtt.conack.flags": ("conack_flags", "int"),
    "mqtt.conack.flags.sp": ("conack_flags_sp", "bool"),
    "mqtt.conack.flags.reserved": ("conack_flags_reserved", "bool"),
    "mqtt.conack.val": ("conack_val", "int"),
    # MQTT 5.0 CONNACK: Wireshark names the same byte differently; EVE keeps `conack_val`.
    "mqtt.connack.reason_code": ("conack_val", "int"),
    "mqtt.puback.reason_code": ("reason_code", "int"),
    "mqtt.pubrec.reason_code": ("reason_code", "int"),
    "mqtt.pubrel.reason_code": ("reason_code", "int"),
    "mqtt.pubcomp.reason_code": ("reason_code", "int"),
    "mqtt.disconnect.reason_code": ("reason_code", "int"),
    "mqtt.auth.reason_code": ("reason_code", "int"),
}
# Fields that repeat within one message and become lists.
LIST_FIELDS = {
    "mqtt.suback.qos": "suback_qos",
    "mqtt.suback.reason_code": "suback_qos",   # 5.0 SUBACK: reason codes, same EVE list
    "mqtt.unsuback.reason_code": "reason_codes",
}
SUB_QOS_FIELDS = ("mqtt.sub.qos", "mqtt.subscription_options_qos")
PROPERTY_CONTAINERS = {"mqtt.properties": "properties", "mqtt.will_properties": "will_properties"}

# MQTT 5.0 property identifier -> EVE key (docs/eve.md). Binary properties are logged by length.
PROPERTY_NAMES = {
    0x01: "payload_format_indicator", 0x02: "message_expiry_interval", 0x03: "content_type",
    0x08: "response_topic", 0x09: "correlation_data_len", 0x0B: "subscription_identifier",
    0x11: "session_expiry_interval", 0x12: "assigned_client_identifier",
    0x13: "server_keep_alive", 0x15: "authentication_method", 0x16: "authentication_data_len",
    0x17: "request_problem_information", 0x18: "will_delay_interval",
    0x19: "request_response_information", 0x1A: "response_information",
    0x1C: "server_reference", 0x1F: "reason_string", 0x21: "receive_maximum",
    0x22: "topic_alias_maximum", 0x23: "topic_alias", 0x24: "maximum_qos",
    0x25: "retain_available", 0x26: "user_properties", 0x27: "maximum_packet_size",
    0x28: "wildcard_subscription_available", 0x29: "subscription_identifier_available",
    0x2A: "shared_subscription_available",
}
BINARY_PROPERTIES = {0x09, 0x16}
PROPERTY_INT_FIELDS = ("mqtt.prop_number", "mqtt.property.topic_alias", "mqtt.property.max_qos")

TCP_FLAG_SYN, TCP_FLAG_ACK = 0x02, 0x10


class TsharkError(RuntimeError):
    """tshark could not be run or produced no usable PDML."""


# ---------------------------------------------------------------------------------------------
# PDML value decoding
# ---------------------------------------------------------------------------------------------

def field_int(field):
    """Integer value of a PDML field.

    `show` is tried first: it is the decoded number, in decimal or `0x..` hex. The `value`
    attribute is not always the number: for unmasked fields it is the raw bytes in hex, which is
    wrong for MQTT's variable-length integers (`mqtt.len` 316 has value "bc02"). It is used only
    when `show` is not a plain number (e.g. a value_string label).
    """
    show = field.get("show", "")
    try:
        if show.lower().startswith("0x"):
            return int(show, 16)
        return int(show, 10)
    except ValueError:
        pass
    value = field.get("value")
    if value:
        return int(value, 16)
    raise ValueError("no integer in field %s (show=%r)" % (field.get("name"), show))


def field_bool(field):
    """Boolean value of a PDML FT_BOOLEAN field (masked value "0"/"1", show "0"/"1")."""
    value = field.get("value")
    if value:
        return int(value, 16) != 0
    return field.get("show", "0") not in ("0", "", "False", "false")


def field_bytes(field):
    """Raw bytes of a field from its hex `value`; None for generated fields that have none."""
    value = field.get("value")
    if value is None:
        return None
    return bytes.fromhex(value)


def field_text(field, skip=0):
    """Text of a string field, decoded from the raw bytes.

    The raw bytes are more faithful than `show`, which escapes control characters. Invalid UTF-8
    becomes U+FFFD, the same as a lossy UTF-8 conversion on the logging side. `skip` drops a
    length prefix that some fields (FT_UINT_STRING) include in their bytes. Generated fields
    (no `value`) fall back to `show`.
    """
    raw = field_bytes(field)
    if raw is None:
        return field.get("show", "")
    return raw[skip:].decode("utf-8", errors="replace")


def printable(raw):
    """Payload as EVE logs it: printable ASCII kept, every other byte written as '.'."""
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in raw)


def is_generated(field):
    """Wireshark-generated fields (e.g. a topic resolved from a topic alias) cover no bytes."""
    return field.get("size") == "0" and field.get("value") is None


# ---------------------------------------------------------------------------------------------
# MQTT message decoding
# ---------------------------------------------------------------------------------------------

def epoch_micros(text):
    """Capture time in seconds, truncated to whole microseconds.

    pcapng stores nanoseconds; Suricata keeps microseconds by truncation, while formatting the
    float with 6 decimals would round. Truncating the decimal string keeps both sides exact.
    """
    secs, _, frac = text.partition(".")
    return float(f"{secs}.{(frac + '000000')[:6]}")


def parse_properties(container):
    """Decode an MQTT 5.0 property list into EVE's shape.

    Wireshark writes a flat sequence: `mqtt.property_len`, then per property a `mqtt.property_id`
    followed by its value field(s); the id decides the EVE key. subscription_identifier, the one
    property that may repeat, becomes a list of every value.
    """
    props = {}
    current = None
    for f in container:
        name = f.get("name")
        if name == "mqtt.property_len":
            props["property_len"] = field_int(f)
        elif name == "mqtt.property_id":
            pid = field_int(f)
            current = (pid, PROPERTY_NAMES.get(pid, "unknown_0x%02x" % pid))
        elif current is None:
            continue
        elif name in PROPERTY_INT_FIELDS and current[0] == 0x0B:
            # The one property that may repeat: a list, as EVE logs it.
            props.setdefault(current[1], []).append(field_int(f))
        elif name in PROPERTY_INT_FIELDS:
            props.setdefault(current[1], field_int(f))
        elif name == "mqtt.property.content_type":
            props.setdefault(current[1], field_text(f, skip=2))
        elif name == "mqtt.prop_string_len" and current[0] in BINARY_PROPERTIES:
            props.setdefault(current[1], field_int(f))
        elif name == "mqtt.prop_string" and current[0] not in BINARY_PROPERTIES:
            props.setdefault(current[1], field_text(f))
        elif name == "mqtt.prop_key":
            props.setdefault("user_properties", []).append({"key": field_text(f), "value": None})
        elif name == "mqtt.prop_value" and props.get("user_properties"):
            props["user_properties"][-1]["value"] = field_text(f)
    return props


def set_topic(msg, field):
    """`mqtt.topic` means different things per type: PUBLISH topic, or one entry of a
    SUBSCRIBE / UNSUBSCRIBE list (whose QoS follows as a sibling field)."""
    mtype = msg.get("msgtype")
    if mtype == SUBSCRIBE:
        msg.setdefault("sub_topics", []).append({"topic": field_text(field), "qos": None})
    elif mtype == UNSUBSCRIBE:
        msg.setdefault("unsub_topics", []).append(field_text(field))
    else:
        msg["topic"] = field_text(field)
        if is_generated(field):
            msg.setdefault("ws_generated", []).append("topic")


def apply_field(msg, field):
    """Store one Wireshark field of an MQTT message under its EVE name."""
    name = field.get("name")
    if name in SIMPLE_FIELDS:
        key, kind = SIMPLE_FIELDS[name]
        if kind == "int":
            msg[key] = field_int(field)
        elif kind == "bool":
            msg[key] = field_bool(field)
        elif kind == "printable":
            msg[key] = printable(field_bytes(field) or b"")
        else:
            msg[key] = field_text(field)
    elif name in LIST_FIELDS:
        msg.setdefault(LIST_FIELDS[name], []).append(field_int(field))
    elif name == "mqtt.topic":
        set_topic(msg, field)
    elif name == "mqtt.topic_len" and msg.get("msgtype") in (SUBSCRIBE, UNSUBSCRIBE):
        pass   # per-entry lengths of a topic list have no EVE field
    elif name == "mqtt.topic_len":
        msg["topic_len"] = field_int(field)
    elif name in SUB_QOS_FIELDS and msg.get("sub_topics"):
        msg["sub_topics"][-1]["qos"] = field_int(field)
    elif name == "mqtt.msg":
        raw = field_bytes(field) or b""
        msg["msg_len"] = len(raw)
        msg["msg"] = printable(raw)
    elif name == "_ws.expert":
        msg.setdefault("ws_expert", []).append(field.get("showname", ""))
    elif name == "_ws.malformed":
        msg["ws_malformed"] = True


def walk_fields(msg, elem):
    """Depth-first walk in document order: parents (hdrflags, conflags) come before the bit
    fields nested in them, and property lists are decoded as a unit."""
    for child in elem:
        if child.tag != "field":
            if child.tag == "proto" and child.get("name") == "_ws.malformed":
                msg["ws_malformed"] = True
            continue
        name = child.get("name")
        if name in PROPERTY_CONTAINERS:
            msg[PROPERTY_CONTAINERS[name]] = parse_properties(child)
            continue
        apply_field(msg, child)
        walk_fields(msg, child)


def parse_mqtt(proto):
    """One `<proto name="mqtt">` element -> one message dict (MQTT fields only)."""
    msg = {}
    walk_fields(msg, proto)
    if msg.get("msgtype") == PUBLISH:
        msg.setdefault("msg_len", 0)   # EVE logs the payload length even when it is empty
        msg.setdefault("msg", "")
    return msg


# ---------------------------------------------------------------------------------------------
# Packets and connections
# ---------------------------------------------------------------------------------------------

def first_proto(packet, *names):
    """First top-level `<proto>` of a packet with one of the given names (the outer IP header,
    not one quoted inside an ICMP error)."""
    for proto in packet.findall("proto"):
        if proto.get("name") in names:
            return proto
    return None


def proto_values(proto):
    """Map field name -> field element for every field of a protocol (first occurrence)."""
    values = {}
    if proto is not None:
        for f in proto.iter("field"):
            values.setdefault(f.get("name"), f)
    return values


def packet_context(packet):
    """Frame and TCP context of one packet, or None when it is not TCP over IP."""
    frame = proto_values(first_proto(packet, "frame"))
    ip = proto_values(first_proto(packet, "ip", "ipv6"))
    tcp = proto_values(first_proto(packet, "tcp"))
    if not tcp or "tcp.stream" not in tcp:
        return None
    # Elements without children are falsy: test for None explicitly.
    src = ip.get("ip.src") if ip.get("ip.src") is not None else ip.get("ipv6.src")
    dst = ip.get("ip.dst") if ip.get("ip.dst") is not None else ip.get("ipv6.dst")
    return {
        "frame": field_int(frame["frame.number"]),
        "frame_time": epoch_micros(frame["frame.time_epoch"].get("show")),
        "tcp_stream": field_int(tcp["tcp.stream"]),
        "src": src.get("show") if src is not None else None,
        "dst": dst.get("show") if dst is not None else None,
        "sport": field_int(tcp["tcp.srcport"]),
        "dport": field_int(tcp["tcp.dstport"]),
        "tcp_flags": field_int(tcp["tcp.flags"]) if "tcp.flags" in tcp else None,
        "tcp_len": field_int(tcp["tcp.len"]) if "tcp.len" in tcp else None,
    }


class ClientTracker:
    """Decides which endpoint of each TCP stream is the MQTT client.

    The sender of a bare SYN is the client. Streams caught mid-way have no SYN; then the side not
    on an MQTT port is the client, and failing that the sender of the first CONNECT, and failing
    that the sender of the first MQTT message. A decision, once made, is kept for the stream.
    """

    def __init__(self, ports):
        """`ports`: the MQTT server ports, used when a stream has no SYN."""
        self.ports = set(ports)
        self.client = {}

    def see_packet(self, ctx):
        """Record the client from a connection-opening SYN."""
        flags = ctx.get("tcp_flags") or 0
        if flags & TCP_FLAG_SYN and not flags & TCP_FLAG_ACK:
            self.client[ctx["tcp_stream"]] = (ctx["src"], ctx["sport"])

    def direction(self, ctx, msg):
        """`to_server` or `to_client` for a message sent with this packet context."""
        stream = ctx["tcp_stream"]
        if stream not in self.client:
            self.client[stream] = self._guess_client(ctx, msg)
        return "to_server" if self.client[stream] == (ctx["src"], ctx["sport"]) else "to_client"

    def _guess_client(self, ctx, msg):
        """Best guess for a stream whose opening SYN was not captured."""
        src, dst = (ctx["src"], ctx["sport"]), (ctx["dst"], ctx["dport"])
        if ctx["dport"] in self.ports and ctx["sport"] not in self.ports:
            return src
        if ctx["sport"] in self.ports and ctx["dport"] not in self.ports:
            return dst
        if msg.get("msgtype") == CONNECT:
            return src
        if msg.get("msgtype") == 2:   # CONNACK goes to the client
            return dst
        return src


def tshark_command(pcap, ports, out_of_order=False):
    """tshark invocation: PDML, TCP reassembly on, and MQTT decoding forced on every port.

    `out_of_order` also reassembles segments that arrive out of order: without it Wireshark
    never completes a message one of whose segments came late, and shows nothing of it. It suits
    captures where a segment seen out of order is late, not lost; where a segment really is
    missing (Suricata's regression captures cut some out on purpose), Wireshark would wait for
    it and show nothing more of the direction."""
    cmd = ["tshark", "-n", "-r", pcap, "-T", "pdml", "-o", "tcp.desegment_tcp_streams:TRUE"]
    if out_of_order:
        cmd += ["-o", "tcp.reassemble_out_of_order:TRUE"]
    for port in ports:
        cmd += ["-d", "tcp.port==%d,mqtt" % port]
    return cmd


def iter_packets(stream):
    """Yield each `<packet>` element of a PDML stream, then drop it so memory stays flat."""
    root = None
    for event, elem in ET.iterparse(stream, events=("start", "end")):
        if event == "start":
            if root is None:
                root = elem
            continue
        if elem.tag == "packet":
            yield elem
            root.clear()


def out_of_order(packet):
    """Whether tshark flags the packet's TCP segment as out of order or retransmitted."""
    return any(f.get("name") in ("tcp.analysis.out_of_order", "tcp.analysis.retransmission")
               for f in packet.iter("field"))


def last_segment_frame(packet):
    """The frame holding the last byte of the one PDU reassembled in this packet, from its
    `tcp.segment` list ("Frame: 29, payload: 299736-300028 (293 bytes)"); None when the packet
    completes no reassembly or more than one."""
    if sum(1 for f in packet.iter("field") if f.get("name") == "tcp.segments") != 1:
        return None
    best = None
    for f in packet.iter("field"):
        if f.get("name") != "tcp.segment":
            continue
        try:
            span = f.get("showname", "").split("payload: ", 1)[1].split(" ", 1)[0]
            end = int(span.split("-", 1)[1])
        except (IndexError, ValueError):
            return None
        if best is None or end > best[0]:
            best = (end, field_int(f))
    return best[1] if best else None


def packet_messages(packet, ctx, tracker, segments=None):
    """All MQTT messages of one packet, in wire order, with their context attached.

    `segments` maps earlier frame numbers to their TCP context. Where the packet is an
    out-of-order segment that completed a reassembly, Wireshark shows the message here while
    another, earlier frame carried its last byte: that frame's context rides along as
    `ws_last_segment` (see quirks.py)."""
    last = None
    if segments is not None and out_of_order(packet):
        frame = last_segment_frame(packet)
        if frame is not None and frame != ctx["frame"] and frame in segments:
            last = segments[frame]
    out = []
    for proto in packet.iter("proto"):
        if proto.get("name") == "_ws.malformed" and out:
            out[-1]["ws_malformed"] = True
        if proto.get("name") != "mqtt":
            continue
        msg = parse_mqtt(proto)
        msg.update(ctx)
        msg["frame_index"] = len(out)
        msg["direction"] = tracker.direction(ctx, msg)
        if last is not None:
            msg["ws_last_segment"] = dict(last)
        out.append(msg)
    return out


def iter_messages(pcap, ports=DEFAULT_PORTS, stderr_sink=None, out_of_order=False):
    """Yield one dict per MQTT message of a capture, in frame order then order within the frame.

    Raises TsharkError when tshark cannot be started or emits no PDML at all. tshark's own
    complaints (e.g. a capture cut short mid-packet) are collected in `stderr_sink` (a list) when
    given, since the messages before the damage are still valid.
    """
    if not os.path.exists(pcap):
        raise TsharkError("no such capture: %s" % pcap)
    tracker = ClientTracker(ports)
    segments = {}   # frame number -> TCP context of every segment with payload
    try:
        proc = subprocess.Popen(tshark_command(pcap, ports, out_of_order), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError as exc:
        raise TsharkError("cannot run tshark: %s" % exc)
    try:
        for packet in iter_packets(proc.stdout):
            ctx = packet_context(packet)
            if ctx is None:
                continue
            tracker.see_packet(ctx)
            if ctx.get("tcp_len"):
                segments[ctx["frame"]] = {k: ctx[k] for k in
                                          ("frame", "frame_time", "tcp_len", "tcp_flags")}
            for msg in packet_messages(packet, ctx, tracker, segments):
                yield msg
    except ET.ParseError as exc:
        raise TsharkError("unreadable PDML from tshark for %s: %s" % (pcap, exc))
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.stderr.close()
        rc = proc.wait()
        noise = [l for l in err.splitlines() if l and not l.startswith("Running as user")]
        if stderr_sink is not None:
            stderr_sink.extend(noise)
            if rc != 0:
                stderr_sink.append("tshark exited with status %d" % rc)


def load_messages(pcap, ports=DEFAULT_PORTS, stderr_sink=None, out_of_order=False):
    """All messages of a capture as a list (see iter_messages)."""
    return list(iter_messages(pcap, ports, stderr_sink, out_of_order))


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def parse_ports(text):
    """'1883,18830' -> (1883, 18830)."""
    try:
        ports = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("ports must be comma-separated numbers: %r" % text)
    if not ports or any(not 0 < p < 65536 for p in ports):
        raise argparse.ArgumentTypeError("bad port list: %r" % text)
    return ports


def summarize(msgs):
    """Counts for the survey table: messages, streams, per type, malformed."""
    types = collections.Counter(MSGTYPE_NAMES.get(m.get("msgtype"), "?") for m in msgs)
    return {
        "messages": len(msgs),
        "streams": len({m["tcp_stream"] for m in msgs}),
        "frames": len({m["frame"] for m in msgs}),
        "malformed": sum(1 for m in msgs if m.get("ws_malformed")),
        "types": dict(types),
    }


def print_table(rows):
    """One line per capture; the type column lists non-zero counts only."""
    width = max([len("capture")] + [len(name) for name, _, _ in rows])
    print("%-*s %8s %7s %7s %9s  %s" % (width, "capture", "messages", "streams", "frames",
                                         "malformed", "per type"))
    for name, summary, errors in rows:
        if summary is None:
            print("%-*s %s" % (width, name, "ERROR: " + "; ".join(errors)))
            continue
        types = " ".join("%s=%d" % kv for kv in sorted(summary["types"].items()))
        print("%-*s %8d %7d %7d %9d  %s" % (width, name, summary["messages"], summary["streams"],
                                             summary["frames"], summary["malformed"], types))
        for line in errors:
            print("%-*s   tshark: %s" % (width, "", line))


def main(argv=None):
    """CLI entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pcaps", nargs="+", metavar="PCAP")
    parser.add_argument("--ports", type=parse_ports, default=DEFAULT_PORTS,
                        help="TCP ports decoded as MQTT (default 1883)")
    parser.add_argument("--out-of-order", action="store_true",
                        help="reassemble TCP segments that arrive out of order (see "
                             "tshark_command)")
    parser.add_argument("--jsonl", action="store_true",
                        help="write every message as a JSON line instead of the summary table")
    args = parser.parse_args(argv)
    rows, failed = [], False
    for pcap in args.pcaps:
        errors = []
        try:
            msgs = load_messages(pcap, args.ports, errors, args.out_of_order)
        except TsharkError as exc:
            rows.append((pcap, None, [str(exc)]))
            failed = True
            continue
        if args.jsonl:
            for m in msgs:
                sys.stdout.write(json.dumps(dict(m, pcap=pcap), sort_keys=True) + "\n")
        rows.append((pcap, summarize(msgs), errors))
    if not args.jsonl:
        print_table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:   # output piped into `head` and the like
        sys.stderr.close()
        sys.exit(0)
