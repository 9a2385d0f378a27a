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
    """True when tshark's `qos` of each topic is the whole options byte (reserved bits set) and
    EVE's is its low two bits, topic by topic."""
    if not isinstance(tshark_value, list) or not isinstance(eve_value, list):
        return False
    if len(tshark_value) != len(eve_value):
        return False
    return all(t.get("topic") == e.get("topic") and isinstance(t.get("qos"), int)
               and t["qos"] > 3 and t["qos"] & 3 == e.get("qos")
               for t, e in zip(tshark_value, eve_value))


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
