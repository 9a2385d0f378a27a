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



def _varint_read_as_u16(tshark_value, eve_value):
    """True when tshark's number is the first two bytes of EVE's variable byte integer read as a
    big-endian u16: the exact misreading, and nothing else."""
    if not isinstance(tshark_value, int) or not isinstance(eve_value, int):
        return False
    if not 128 <= eve_value < 16384:
        return False
    b0, b1 = (eve_value & 0x7F) | 0x80, eve_value >> 7
    return tshark_value == (b0 << 8) | b1


QUIRKS = {
    "properties.property_len": {
        "tshark": "Wireshark 4.0.17 reads an MQTT 5 property length of two bytes whose first byte "
                  "has the continuation bit (e.g. ff 21) as a big-endian u16 (65313) instead of "
                  "a variable byte integer (127 + 33*128 = 4351), then stops with 'Malformed "
                  "Packet'",
        "why": "MQTT 5.0 section 1.5.5 defines property length as a variable byte integer; seen "
               "in suricata-verify mqtt5-excessiveproplen frame 4",
        "match": _varint_read_as_u16,
        "test": "wire::properties tests::tshark_quirk_property_length_is_a_varint",
    },
}
