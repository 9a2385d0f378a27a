"""Known tshark behaviours that make a field disagree with the EVE record for a good reason.

compare.py --quirks excuses a disagreement on field F only when QUIRKS has an entry for F (and,
if the entry has `when`, only when the tshark message has all those field values). An entry is
added only after the tshark behaviour has been verified on real captures, never to hide a
difference that the plugin should fix. Each entry says:

  "tshark": what Wireshark does with this field,
  "why":    why the EVE value is the right one and how it was verified,
  "when":   optional {tshark field: value} conditions limiting the excuse,
  "match":  optional function (tshark value, EVE value) -> bool that must hold: it pins the
            excuse to the exact misreading described, so any other difference still fails,
  "test":   the test that demonstrates the correct decoding.

Example shape (not an active entry):

  "some_field": {
      "tshark": "Wireshark 4.0 shows ... for ...",
      "why": "the wire carries ...; seen in pcaps/xyz.pcap frame 12",
      "when": {"msgtype": 3},
  },
"""



def _varint_bytes(value):
    out = []
    while True:
        b, value = value & 0x7F, value >> 7
        out.append(b | 0x80 if value else b)
        if not value:
            return bytes(out)


def _varint_read_as_big_endian(tshark_value, eve_value):
    """True when tshark's number is EVE's variable byte integer, encoded on 2 to 4 bytes, read as
    a big-endian integer: the exact misreading, and nothing else."""
    if not isinstance(tshark_value, int) or not isinstance(eve_value, int):
        return False
    if not 128 <= eve_value < 1 << 28:
        return False
    return tshark_value == int.from_bytes(_varint_bytes(eve_value), "big")


def _options_byte_as_qos(tshark_value, eve_value):
    """True when, topic by topic, the topics are the same and tshark's `qos` is either EVE's or
    the whole options byte (reserved bits set) of which EVE's is the low two bits, the latter for
    at least one topic: a SUBSCRIBE may carry well-formed options beside a broken one."""
    if not isinstance(tshark_value, list) or not isinstance(eve_value, list):
        return False
    if len(tshark_value) != len(eve_value):
        return False
    misread = 0
    for t, e in zip(tshark_value, eve_value):
        if t.get("topic") != e.get("topic") or not isinstance(t.get("qos"), int):
            return False
        if t["qos"] == e.get("qos"):
            continue
        if t["qos"] > 3 and t["qos"] & 3 == e.get("qos"):
            misread += 1
            continue
        return False
    return misread > 0


def _last_segment(key, tolerance=0.0):
    """For the `tcp` context of a message Wireshark shows in an out-of-order frame: true when
    EVE's value is exactly that of the frame holding the message's last byte, which tshark lists
    among the reassembled segments (`ws_last_segment`, tshark_messages.py)."""
    def match(t, tshark_value, eve_value):
        last = t.get("ws_last_segment")
        if not isinstance(last, dict) or key not in last:
            return False
        if tolerance:
            return isinstance(eve_value, (int, float)) and \
                abs(eve_value - last[key]) <= tolerance
        return eve_value == last[key]
    return match


QUIRKS = {
    "properties.property_len": {
        "tshark": "Wireshark 4.0.17 reads an MQTT 5 property length whose first byte has the "
                  "continuation bit as a big-endian integer of the length's bytes (ff 21 -> 65313, "
                  "d3 a5 bb 2e -> 3550853934) instead of a variable byte integer (4351, 97440467), "
                  "then stops with 'Malformed Packet'",
        "why": "MQTT 5.0 section 1.5.5 defines property length as a variable byte integer; seen "
               "in suricata-verify mqtt5-excessiveproplen frame 4 and in generated malformed CONNECTs",
        "match": _varint_read_as_big_endian,
        "test": "wire::properties tests::tshark_quirk_property_length_is_a_varint",
    },
    "sub_topics": {
        "tshark": "Wireshark 4.0.17 shows the whole SUBSCRIBE options byte as mqtt.sub.qos for "
                  "MQTT 3.1/3.1.1 (0x44 -> 68); the protocol defines the requested QoS as its low "
                  "two bits and the other bits as reserved",
        "why": "MQTT 3.1.1 section 3.8.3.1: bits 7-2 are reserved (the plugin raises "
               "invalid_subscribe_options) and bits 1-0 are the QoS; seen in generated malformed "
               "SUBSCRIBEs",
        "match": _options_byte_as_qos,
        "test": "wire::subscribe tests::tshark_quirk_qos_is_the_low_two_bits_of_the_options",
    },
    "tcp.ts": {
        "tshark": "Wireshark 4.0.17 (with tcp.reassemble_out_of_order) shows a message whose "
                  "segments arrived out of order in the frame that completed its reassembly, "
                  "which is not the frame holding its last byte",
        "why": "EVE's `tcp` object is the segment holding the message's last byte (docs/eve.md), "
               "here an earlier frame that tshark lists among the reassembled segments; excused "
               "only when EVE's value is exactly that frame's. Seen in ns-home/bruteforce-a.pcap "
               "frames 29 and 31 (a 300 KB PUBLISH)",
        "match_msg": _last_segment("frame_time", tolerance=1e-6),
        "test": "flow::packets tests::out_of_order_segments_the_last_byte_is_carried_by_its_own",
    },
    "tcp.len": {
        "tshark": "as tcp.ts: the payload length of the frame that completed the reassembly",
        "why": "as tcp.ts: EVE's is the length of the segment holding the last byte",
        "match_msg": _last_segment("tcp_len"),
        "test": "flow::packets tests::out_of_order_segments_the_last_byte_is_carried_by_its_own",
    },
    "tcp.flags": {
        "tshark": "as tcp.ts: the TCP flags of the frame that completed the reassembly",
        "why": "as tcp.ts: EVE's are the flags of the segment holding the last byte",
        "match_msg": _last_segment("tcp_flags"),
        "test": "flow::packets tests::out_of_order_segments_the_last_byte_is_carried_by_its_own",
    },
}

# Messages present on one side only, excused when `match(fields)` holds for that very record.
ONE_SIDED_QUIRKS = {
    "header_without_body": {
        "side": "eve-only",
        "tshark": "Wireshark 4.0.17 shows nothing for an MQTT header whose remaining length is "
                  "longer than 4 bytes, or that announces more bytes than the capture holds (it "
                  "waits for a reassembly that never completes)",
        "why": "an IDS must report such a header: the plugin records it, body unparsed, flagged "
               "bad_remaining_length or message_too_large, and resynchronises; seen in generated "
               "malformed captures",
        "match": lambda m: m.get("malformed") is True and bool(
            {"bad_remaining_length", "message_too_large"} & set(m.get("events") or [])),
        "test": "flow::session tests::unframeable_header_is_recorded_then_resynced, "
                "flow::session tests::oversized_message_is_recorded_and_its_body_skipped_across_slices",
    },
    "cut_by_end_of_stream": {
        "side": "eve-only",
        "tshark": "Wireshark 4.0.17 shows nothing for a message whose connection closes before "
                  "the bytes its remaining length announces have arrived (the reassembly never "
                  "completes)",
        "why": "an IDS must not lose a message because the peer hung up in the middle of it: at "
               "the end of the stream the plugin records its header, body unparsed, flagged "
               "truncated; seen in generated malformed captures",
        "match": lambda m: m.get("malformed") is True and "truncated" in (m.get("events") or [])
        and not any(k in m for k in ("topic", "clientid", "msg", "topics", "message_id")),
        "test": "flow::session tests::message_cut_by_the_end_of_the_stream_is_recorded",
    },
    "resynced_after_unframeable_header": {
        "side": "eve-only",
        "tshark": "Wireshark 4.0.17 shows nothing more of a direction after a header it cannot "
                  "frame (see header_without_body)",
        "why": "after such a header the plugin looks for the next plausible MQTT header and "
               "records what it finds there, flagged `resync` and malformed, so that an attacker "
               "cannot blind it with one bad header; seen in ns-home/malformed-a.pcap (a "
               "remaining length of five bytes, then a PUBLISH header found inside the body)",
        "match": lambda m: m.get("malformed") is True and "resync" in (m.get("events") or []),
        # Excused only right after a message excused as one-sided on the same flow and
        # direction (a header_without_body, or a record excused by this entry).
        "after_one_sided": True,
        "test": "flow::session tests::unframeable_header_is_recorded_then_resynced",
    },
}
# Fields one side does not produce for a message both sides describe. For an aligned message, a
# field present on one side only fails the comparison unless it is listed here under the side that
# lacks it, and `when(tshark message, EVE mqtt_ml object)` holds for that very pair: a field that
# one side stops producing is then caught, not silently left out of the comparison.
def _malformed(t, e):
    return e.get("malformed") is True


def _wireshark_gave_up(t, e):
    """Wireshark marked the message malformed without decoding even its type."""
    return bool(t.get("ws_malformed")) and "msgtype" not in t


def _always(t, e):
    return True


def _string_cut_by_message_end(value_key):
    """A CONNECT string whose length prefix is on the wire but whose bytes run past the end of
    the message: Wireshark shows the length and no value, EVE (which flags the message
    `truncated`) neither."""
    def when(t, e):
        return e.get("msgtype") == 1 and e.get("malformed") is True and \
            "truncated" in (e.get("events") or []) and bool(t.get("ws_malformed")) and \
            value_key not in t and value_key not in e
    return when


def _v31_connack(t, e):
    """An MQTT 3.1 CONNACK: its first body byte is reserved there, and Wireshark shows no flags."""
    return e.get("protocol_version") == 3 and e.get("msgtype") == 2


def _header_qos_of_pubrel_subscribe_unsubscribe(t, e):
    """Wireshark shows the header's DUP and QoS bits for PUBREL, SUBSCRIBE and UNSUBSCRIBE (whose
    flag nibble MQTT fixes at 0010); EVE gives that whole byte as hdrflags. Excused only when
    tshark's values are exactly those bits of EVE's hdrflags."""
    h = e.get("hdrflags")
    if e.get("msgtype") not in (6, 8, 10) or not isinstance(h, int):
        return False
    return t.get("qos", (h >> 1) & 3) == (h >> 1) & 3 and \
        t.get("dupflag", bool(h & 8)) == bool(h & 8)


NOT_PRODUCED = {
    # Fields EVE has that tshark does not.
    "tshark": {
        "score": {"why": "the model's output, not a wire field", "when": _always},
        "threshold": {"why": "the model's threshold, not a wire field", "when": _always},
        "anomaly": {"why": "the model's verdict, not a wire field", "when": _always},
        "top_features": {"why": "the score's explanation, not a wire field", "when": _always},
        "score_failed": {"why": "the model's failure flag, not a wire field", "when": _always},
        "above_threshold": {"why": "the score against the threshold, not a wire field",
                            "when": _always},
        "evidence": {"why": "the decision's accumulated evidence, not a wire field",
                     "when": _always},
        "dropped": {"why": "messages the plugin did not record, not a wire field",
                    "when": _always},
        "*": {"why": "Wireshark gave up on the message ('Malformed Packet', no field at all); "
                     "EVE records its header", "when": _wireshark_gave_up},
        "sub_topics": {"why": "Wireshark stops at a malformed SUBSCRIBE before listing its "
                              "topics; EVE lists those it could read", "when": _malformed},
        "unsub_topics": {"why": "as sub_topics, for UNSUBSCRIBE", "when": _malformed},
        "conack_flags": {"why": "Wireshark 4.0.17 shows no acknowledge flags for an MQTT 3.1 "
                                "CONNACK (the byte is reserved in 3.1); EVE gives the byte",
                         "when": _v31_connack},
        "conack_flags_sp": {"why": "as conack_flags", "when": _v31_connack},
        "conack_flags_reserved": {"why": "as conack_flags", "when": _v31_connack},
    },
    # Fields tshark has that EVE does not.
    "eve": {
        "passwd": {"why": "EVE logs CONNECT passwords only with log-passwords: yes (passwd_len "
                          "always)", "when": lambda t, e: "passwd_len" in e},
        "msg": {"why": "EVE leaves out a malformed message's payload", "when": _malformed},
        "msg_len": {"why": "as msg", "when": _malformed},
        "topic_len": {"why": "EVE leaves out the topic of a PUBLISH whose body broke",
                      "when": _malformed},
        "proto_len": {"why": "EVE leaves out the protocol name of a CONNECT whose body broke",
                      "when": _malformed},
        # The length prefix of a string cut by the message's end (tested by
        # wire::strings tests::truncated_length_and_body and
        # wire::connect tests::truncated_payload_keeps_fixed_part).
        "clientid_len": {"why": "EVE logs a string's length with its value only; this client id "
                                "runs past the end of the message",
                         "when": _string_cut_by_message_end("clientid")},
        "willtopic_len": {"why": "as clientid_len, for the will topic",
                          "when": _string_cut_by_message_end("willtopic")},
        "willmsg_len": {"why": "as clientid_len, for the will message",
                        "when": _string_cut_by_message_end("willmsg")},
        "username_len": {"why": "as clientid_len, for the user name",
                         "when": _string_cut_by_message_end("username")},
        "passwd_len": {"why": "as clientid_len, for the password (whose length EVE otherwise "
                              "always logs)", "when": _string_cut_by_message_end("passwd")},
        "qos": {"why": "EVE has qos for PUBLISH only; hdrflags holds these header bits",
                "when": _header_qos_of_pubrel_subscribe_unsubscribe},
        "dupflag": {"why": "as qos", "when": _header_qos_of_pubrel_subscribe_unsubscribe},
    },
}


def not_produced(side, field, t, e):
    """Whether NOT_PRODUCED excuses `side` lacking `field` for this pair."""
    entries = NOT_PRODUCED.get(side, {})
    for name in (field, field.split(".")[0], "*"):
        entry = entries.get(name)
        if entry is not None and entry["when"](t, e):
            return True
    return False
