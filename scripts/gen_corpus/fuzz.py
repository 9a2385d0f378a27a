"""A mutation fuzzer for the corpus's malformed class, unlike gen_dataset.attacks.CASES.

gen_dataset's cases are hand-written invalid messages. These start from a valid message (CONNECT,
PUBLISH, SUBSCRIBE, ... in 3.1.1 and 5.0 with properties) and break it byte-wise, aimed at the
structure a parser must check: the fixed header, the remaining length, string and property
lengths, or by truncating and splicing. Each case returns the byte strings sent one after the
other on one connection (a valid CONNECT first when the broken message is not the CONNECT).
"""

from gen_dataset import mqtt as m


def _props_connect():
    # session expiry 60, receive maximum 10, user property k=v
    return b"\x11\x00\x00\x00\x3c" + b"\x21\x00\x0a" + b"\x26" + m.mstr("k") + m.mstr("v")


def _props_publish():
    # payload format 1, message expiry 30, content type
    return b"\x01\x01" + b"\x02\x00\x00\x00\x1e" + b"\x03" + m.mstr("application/json")


def valid_messages(rng, creds=None):
    """(name, is_connect, version, bytes) of a few valid messages to start from. creds: the
    (username, password) the CONNECTs carry (None: anonymous)."""
    user, pw = creds or (None, None)
    cid = f"dev-{rng.randrange(16**6):06x}"
    topic = rng.choice(["plant/line1/temp", "home/kitchen/plug", "fleet/truck7/gps"])
    body = b'{"v":%d}' % rng.randrange(1000)
    return [
        ("connect311", True, m.V311, m.connect(cid, keepalive=60, username=user,
                                               password=pw)),
        ("connect5", True, m.V5, m.connect(cid, keepalive=30, version=m.V5, username=user,
                                           password=pw, props=_props_connect(),
                                           will=("st/" + cid, "gone", 1, True))),
        ("publish311", False, m.V311, m.publish(topic, body, qos=1, pid=rng.randint(1, 999))),
        ("publish5", False, m.V5, m.publish(topic, body, qos=2, pid=rng.randint(1, 999),
                                            version=m.V5, props=_props_publish())),
        ("subscribe311", False, m.V311, m.subscribe(rng.randint(1, 999), [(topic, 1),
                                                                          ("alarm/#", 2)])),
        ("unsubscribe311", False, m.V311,
         m.packet(m.UNSUBSCRIBE, 2, m.u16(rng.randint(1, 999)) + m.mstr(topic))),
        ("pubrel311", False, m.V311, m.ack(m.PUBREL, rng.randint(1, 999))),
    ]


def _hdr_len(pkt):
    i = 1
    while i < len(pkt) and pkt[i] & 0x80 and i < 4:
        i += 1
    return i + 1


def mut_type_flags(rng, pkt):
    """Fixed header: reserved types 0/15, or flags a type does not allow."""
    t = pkt[0] >> 4
    if rng.random() < 0.4:
        first = rng.choice([0x00, 0xF0]) | rng.randrange(16)
    elif t == m.PUBLISH:
        first = (pkt[0] & 0xF9) | 0x06            # QoS 3
    else:
        bad = [f for f in range(16) if f != (2 if t in (6, 8, 10) else 0)]
        first = (t << 4) | rng.choice(bad)
    return bytes([first]) + pkt[1:]


def mut_remaining_length(rng, pkt):
    """Remaining length that disagrees with the bytes: too long (the rest never comes), too
    short (the tail becomes a bogus next packet), or a 5-byte variable integer."""
    h = _hdr_len(pkt)
    body = pkt[h:]
    r = rng.random()
    if r < 0.35:
        n = len(body) + rng.randint(50, 5000)
    elif r < 0.7:
        n = max(0, len(body) - rng.randint(1, max(1, len(body) - 1)))
    else:
        return pkt[:1] + b"\xff\xff\xff\xff\x01" + body
    return pkt[:1] + m.varint(n) + body


def mut_string_length(rng, pkt):
    """The first length-prefixed string (protocol name or topic) claims more bytes than exist."""
    h = _hdr_len(pkt)
    if len(pkt) < h + 2 or pkt[0] >> 4 in (m.PUBACK, m.PUBREC, m.PUBREL, m.PUBCOMP):
        return mut_remaining_length(rng, pkt)
    n = int.from_bytes(pkt[h:h + 2], "big")
    bad = rng.choice([n + rng.randint(1, 200), 0xFFFF, len(pkt) + 7])
    return pkt[:h] + bad.to_bytes(2, "big") + pkt[h + 2:]


def mut_byte_flip(rng, pkt):
    """Random bytes of the variable header overwritten (protocol name, level, flags, ids)."""
    h = _hdr_len(pkt)
    b = bytearray(pkt)
    lim = min(len(b), h + 12)
    for _ in range(rng.randint(2, 4)):
        if lim > h:
            i = rng.randrange(h, lim)
            b[i] = (b[i] ^ (1 << rng.randrange(8))) if rng.random() < 0.5 else rng.randrange(256)
    # ...and the header flags too, so that a flip the grammar allows still breaks the message
    return mut_type_flags(rng, bytes(b))


def mut_truncate(rng, pkt):
    """The message cut short (the remaining length still says the whole)."""
    h = _hdr_len(pkt)
    return pkt[:rng.randint(h, max(h, len(pkt) - 1))]


def mut_splice(rng, pkt, other):
    """Head of one message, tail of another, under the first one's header."""
    h = _hdr_len(pkt)
    cut = rng.randint(h, len(pkt))
    oc = rng.randint(_hdr_len(other), len(other))
    return mut_remaining_length(rng, pkt[:cut] + other[oc:])


def mut_property_length(rng, pkt, version):
    """5.0: a property length past the end, or a property id that does not exist."""
    if version != m.V5:
        return mut_string_length(rng, pkt)
    b = bytearray(pkt)
    # the property length follows the 10-byte CONNECT variable header / the topic (+ id)
    h = _hdr_len(pkt)
    if pkt[0] >> 4 == m.CONNECT:
        at = h + 10
    else:
        tl = int.from_bytes(pkt[h:h + 2], "big")
        at = h + 2 + tl + (2 if (pkt[0] >> 1) & 3 else 0)
    if at >= len(b):
        return mut_truncate(rng, pkt)
    if rng.random() < 0.5:
        b[at] = rng.choice([0x7F, 0x70, 0x60])             # longer than the message
    elif at + 1 < len(b):
        b[at + 1] = rng.choice([0x00, 0x04, 0x30, 0x7F])   # no such property
    return bytes(b)


MUTATIONS = ["type_flags", "remaining_length", "string_length", "byte_flip", "truncate",
             "splice", "property_length"]


def _make_case(mutation, base_index, creds):
    def case(rng):
        msgs = valid_messages(rng, creds)
        name, is_connect, ver, pkt = msgs[base_index % len(msgs)]
        if mutation == "type_flags":
            bad = mut_type_flags(rng, pkt)
        elif mutation == "remaining_length":
            bad = mut_remaining_length(rng, pkt)
        elif mutation == "string_length":
            bad = mut_string_length(rng, pkt)
        elif mutation == "byte_flip":
            bad = mut_byte_flip(rng, pkt)
        elif mutation == "truncate":
            bad = mut_truncate(rng, pkt)
        elif mutation == "splice":
            bad = mut_splice(rng, pkt, rng.choice(msgs)[3])
        else:
            bad = mut_property_length(rng, pkt, ver)
        if is_connect:
            return [bad]
        hello = msgs[1][3] if ver == m.V5 else msgs[0][3]
        return [hello, bad]
    case.__name__ = f"{mutation}_{base_index}"
    return case


def cases(creds=None):
    """(name, function(rng) -> [bytes]) for every mutation of every base message; the valid
    CONNECTs carry creds ((username, password), None: anonymous)."""
    out = []
    for mutation in MUTATIONS:
        for i in range(7):
            f = _make_case(mutation, i, creds)
            out.append((f.__name__, f))
    return out
