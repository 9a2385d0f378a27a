"""Reading captures back with tshark: streams, MQTT message statistics, labels and their check."""

import collections
import csv
import subprocess

LABEL_FIELDS = ["src_ip", "src_port", "dst_ip", "dst_port", "proto", "class", "first_ts", "last_ts"]
EXPERT_WARN = 0x600000     # _ws.expert.severity: 0x200000 chat, 0x400000 note, 0x600000 warn,
EXPERT_ERROR = 0x800000    # 0x800000 error
PI_SEQUENCE = 0x02000000   # _ws.expert.group of TCP's sequence analysis (RST, retransmission)

FIELDS = ["tcp.stream", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", "frame.time_epoch",
          "frame.len", "tcp.len", "tcp.flags", "mqtt.hdrflags", "mqtt.len", "mqtt.msgtype", "mqtt.qos",
          "mqtt.conack.val", "mqtt.connack.reason_code", "mqtt.kalive", "mqtt.ver",
          "mqtt.retain", "mqtt.conflag.uname", "mqtt.conflag.passwd", "mqtt.conflag.reserved",
          "mqtt.conflag.qos", "mqtt.prop_unknown", "mqtt.sub.qos", "mqtt.subscription_options_qos",
          "_ws.malformed", "_ws.expert.severity", "_ws.expert.group",
          # strings last: they may hold anything
          "mqtt.protoname", "mqtt.clientid", "mqtt.topic"]
SEP, AGG = "\x1e", "\x1f"
# The fixed-header flags every type but PUBLISH must carry (MQTT 3.1.1/5.0 section 2.1.3).
FIXED_FLAGS = {1: 0, 2: 0, 4: 0, 5: 0, 6: 2, 7: 0, 8: 2, 9: 0, 10: 2, 11: 0, 12: 0, 13: 0, 14: 0,
               15: 0}


def tshark_rows(pcap, port):
    argv = ["tshark", "-r", pcap, "-n", "-T", "fields", "-E", f"separator={SEP}",
            "-E", "occurrence=a", "-E", f"aggregator={AGG}"]
    if port != 1883:
        argv += ["-d", f"tcp.port=={port},mqtt"]
    for f in FIELDS:
        argv += ["-e", f]
    r = subprocess.run(argv, capture_output=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"tshark failed on {pcap}: {r.stderr.decode(errors='replace')[-500:]}")
    for line in r.stdout.decode("utf-8", errors="replace").split("\n"):
        if not line:
            continue
        cols = line.split(SEP)
        if len(cols) != len(FIELDS):
            raise RuntimeError(f"tshark output of {pcap} does not parse: {line[:120]!r}")
        yield dict(zip(FIELDS, cols))


def _vlen(n):
    return 1 if n < 128 else 2 if n < 16384 else 3 if n < 2097152 else 4


def _strs(s):
    return s.split(AGG) if s else []


def frame_anomalies(r, ints):
    """Invalid values tshark shows in one frame (MQTT 3.1.1/5.0), as short reason names."""
    out = []
    hdr = ints(r["mqtt.hdrflags"])
    vers = ints(r["mqtt.ver"])
    for h in hdr:
        t, fl = h >> 4, h & 0x0F
        if t == 0 or (t == 15 and 5 not in vers):
            out.append("reserved_type")
        elif t == 3 and (fl >> 1) & 3 == 3:
            out.append("publish_qos3")
        elif t != 3 and FIXED_FLAGS.get(t, fl) != fl:
            out.append("bad_header_flags")
    for h, n in zip(hdr, ints(r["mqtt.len"])):
        if h >> 4 in (12, 13) and n:
            out.append("ping_with_body")
    if any(v not in (3, 4, 5) for v in vers):
        out.append("bad_protocol_level")
    if any(p not in ("MQTT", "MQIsdp") for p in _strs(r["mqtt.protoname"])):
        out.append("bad_protocol_name")
    if any(x for x in ints(r["mqtt.conflag.reserved"])):
        out.append("connect_reserved_flag")
    if any(x == 3 for x in ints(r["mqtt.conflag.qos"])):
        out.append("will_qos3")
    un, pw = ints(r["mqtt.conflag.uname"]), ints(r["mqtt.conflag.passwd"])
    if any(p and not u for u, p in zip(un, pw)) and 5 not in vers:
        out.append("password_without_username")
    if r["mqtt.prop_unknown"]:
        out.append("unknown_property")
    if any(q > 2 for q in ints(r["mqtt.sub.qos"]) + ints(r["mqtt.subscription_options_qos"])):
        out.append("subscribe_qos3")
    types = [h >> 4 for h in hdr]
    topics = _strs(r["mqtt.topic"])
    if 8 in types and not topics:
        out.append("subscribe_without_topic")
    if types and set(types) <= {3} and any("#" in t or "+" in t for t in topics):
        out.append("wildcard_in_publish")
    for s in topics + _strs(r["mqtt.clientid"]):
        if "\ufffd" in s or "\\x" in s or "\\0" in s or "\x00" in s:
            out.append("invalid_utf8")
            break
    return out


def _ints(s):
    out = []
    for x in s.split("\x1f") if s else []:
        for y in x.split(","):
            y = y.strip()
            if y:
                try:
                    out.append(int(y, 0))
                except ValueError:
                    try:
                        out.append(int(y, 10))
                    except ValueError:
                        pass
    return out


def analyze(pcap, port):
    """Per-stream endpoints/times and MQTT statistics of a capture."""
    streams = {}
    for r in tshark_rows(pcap, port):
        if not r["tcp.stream"]:
            continue
        sid = int(r["tcp.stream"])
        ts = float(r["frame.time_epoch"])
        st = streams.get(sid)
        if st is None:
            st = streams[sid] = {"first": ts, "last": ts, "frames": 0, "bytes": 0,
                                 "client": None, "server": None, "types": collections.Counter(),
                                 "qos": collections.Counter(), "connack": collections.Counter(),
                                 "kalive": collections.Counter(), "ver": collections.Counter(),
                                 "retained": 0, "malformed_frames": 0, "expert_warn_frames": 0,
                                 "malformed_retransmitted": 0,
                                 "topics": set(), "anomalies": collections.Counter(),
                                 "c2s_tcp": 0, "c2s_mqtt": 0, "connects": 0,
                                 "closed_by": set()}
        st["first"] = min(st["first"], ts)
        st["last"] = max(st["last"], ts)
        st["frames"] += 1
        st["bytes"] += int(r["frame.len"] or 0)
        src = (r["ip.src"], int(r["tcp.srcport"]))
        dst = (r["ip.dst"], int(r["tcp.dstport"]))
        if st["client"] is None:
            if dst[1] == port:
                st["client"], st["server"] = src, dst
            elif src[1] == port:
                st["client"], st["server"] = dst, src
        types = _ints(r["mqtt.msgtype"])
        st["types"].update(types)
        flags = _ints(r["tcp.flags"])
        if flags and flags[0] & 0x01:              # FIN
            st["closed_by"].add("client" if src == st["client"] else "server")
        if flags and flags[0] & 0x04:              # RST: ends the connection for both
            st["closed_by"].update(("client", "server"))
        if st["client"] is not None and src == st["client"]:
            # Client bytes that tshark decodes as complete MQTT messages; the rest is junk or
            # a message that never completes.
            st["c2s_tcp"] += int(r["tcp.len"] or 0)
            st["c2s_mqtt"] += sum(1 + _vlen(n) + n for n in _ints(r["mqtt.len"]))
            st["connects"] += types.count(1)
        st["anomalies"].update(frame_anomalies(r, _ints))
        qos = _ints(r["mqtt.qos"])
        # mqtt.qos is present on PUBLISH (and nothing else) in tshark 4.0.
        st["qos"].update(qos)
        # 3.1.1 return code / 5.0 reason code: same byte, two field names in tshark.
        st["connack"].update(_ints(r["mqtt.conack.val"]) + _ints(r["mqtt.connack.reason_code"]))
        st["kalive"].update(_ints(r["mqtt.kalive"]))
        st["ver"].update(_ints(r["mqtt.ver"]))
        st["retained"] += sum(1 for x in r["mqtt.retain"].replace("\x1f", ",").split(",")
                              if x.strip() in ("1", "True"))
        if r["_ws.malformed"]:
            st["malformed_frames"] += 1
            # tshark calls a frame malformed when a retransmitted segment overlaps what it has
            # reassembled: a TCP event, not MQTT content (counted apart for who wants to tell)
            if any(g == PI_SEQUENCE for g in _ints(r["_ws.expert.group"])):
                st["malformed_retransmitted"] += 1
        # Expert warnings/errors, except TCP's sequence analysis (a client closing with unread
        # data gets an RST, which says nothing about the MQTT in the stream).
        if any(s >= EXPERT_WARN and g != PI_SEQUENCE for s, g in
               zip(_ints(r["_ws.expert.severity"]), _ints(r["_ws.expert.group"]))):
            st["expert_warn_frames"] += 1
        if r["mqtt.topic"]:
            for t in r["mqtt.topic"].split("\x1f"):
                st["topics"].add(t)
    for st in streams.values():
        if st["c2s_tcp"] != st["c2s_mqtt"]:
            st["anomalies"]["undecodable_bytes"] += 1
        if st["connects"] > 1:
            st["anomalies"]["second_connect"] += 1
        st["flagged"] = bool(st["malformed_frames"] or st["expert_warn_frames"] or
                             st["anomalies"])
    return streams


def summarize(streams):
    types = collections.Counter()
    qos = collections.Counter()
    connack = collections.Counter()
    kalive = collections.Counter()
    ver = collections.Counter()
    topics = set()
    s = {"connections": len(streams), "frames": 0, "bytes": 0, "retained": 0,
         "streams_malformed": 0, "streams_expert_warn": 0, "malformed_frames": 0,
         "streams_malformed_by_retransmission": 0,
         "streams_flagged": 0, "streams_open_at_end": 0}  # no FIN from both or RST
    reasons = collections.Counter()
    first = min((st["first"] for st in streams.values()), default=0.0)
    last = max((st["last"] for st in streams.values()), default=0.0)
    for st in streams.values():
        types.update(st["types"])
        qos.update(st["qos"])
        connack.update(st["connack"])
        kalive.update(st["kalive"])
        ver.update(st["ver"])
        topics |= st["topics"]
        s["frames"] += st["frames"]
        s["bytes"] += st["bytes"]
        s["retained"] += st["retained"]
        s["malformed_frames"] += st["malformed_frames"]
        s["streams_malformed"] += 1 if st["malformed_frames"] else 0
        s["streams_malformed_by_retransmission"] += 1 if st["malformed_frames"] and \
            st["malformed_frames"] == st["malformed_retransmitted"] else 0
        s["streams_expert_warn"] += 1 if st["expert_warn_frames"] else 0
        s["streams_flagged"] += 1 if st["flagged"] else 0
        s["streams_open_at_end"] += 1 if len(st["closed_by"]) < 2 else 0
        reasons.update(set(st["anomalies"]))
    s["messages"] = sum(types.values())
    s["msgtypes"] = {str(k): v for k, v in sorted(types.items())}
    s["publish_qos"] = {str(k): v for k, v in sorted(qos.items())}
    s["connack_codes"] = {str(k): v for k, v in sorted(connack.items())}
    s["keepalive_65535"] = kalive.get(65535, 0)
    s["protocol_levels"] = {str(k): v for k, v in sorted(ver.items())}
    s["distinct_topics"] = len(topics)
    s["seconds"] = round(last - first, 3)
    s["anomaly_streams"] = dict(sorted(reasons.items()))
    return s


def label_streams(streams, records, default_label=None, host_labels=None):
    """Give every stream the label of the one recorded connection it belongs to.

    A stream matches a record when the client port (and address, when the record has one) is the
    same and the stream starts while the record's connection could have been open. A stream with
    no such record takes the label of its client address from host_labels ({ip: label}, for hosts
    whose every connection has one class but whose ports are not known, e.g. behind NAT), else
    default_label. Returns (rows, errors)."""
    host_labels = host_labels or {}
    by_port = collections.defaultdict(list)
    for rec in records:
        if rec["port"] is not None:
            by_port[rec["port"]].append(rec)
    used = set()
    rows, errors = [], []
    for sid in sorted(streams, key=lambda k: streams[k]["first"]):
        st = streams[sid]
        if st["client"] is None:
            errors.append(f"stream {sid}: neither end is the broker port")
            continue
        cands = [r for r in by_port.get(st["client"][1], [])
                 if r["t0"] - 1.0 <= st["first"] <= (r["t1"] if r["t1"] else float("inf")) + 1.0
                 and r.get("ip") in (None, st["client"][0]) and id(r) not in used]
        if len(cands) > 1:   # the same port twice: take the connection opened last before it
            cands = [max((r for r in cands if r["t0"] - 1.0 <= st["first"]),
                         key=lambda r: r["t0"])]
        if not cands and st["client"][0] in host_labels:
            label = host_labels[st["client"][0]]
        elif not cands:
            if default_label is None:
                errors.append(f"stream {sid} (client port {st['client'][1]}): no recorded "
                              f"connection")
                continue
            label = default_label
        else:
            if host_labels.get(st["client"][0], cands[0]["label"]) != cands[0]["label"]:
                errors.append(f"stream {sid}: recorded as {cands[0]['label']} but its host "
                              f"{st['client'][0]} is {host_labels[st['client'][0]]}")
            used.add(id(cands[0]))
            label = cands[0]["label"]
        rows.append({"src_ip": st["client"][0], "src_port": st["client"][1],
                     "dst_ip": st["server"][0], "dst_port": st["server"][1], "proto": "tcp",
                     "class": label, "first_ts": f"{st['first']:.6f}",
                     "last_ts": f"{st['last']:.6f}", "_sid": sid})
    missing = [r for r in records if r["port"] is not None and id(r) not in used]
    for r in missing:
        errors.append(f"recorded {r['label']} connection from port {r['port']} is not in the "
                      f"capture")
    return rows, errors


def write_labels(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=LABEL_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def read_labels(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def verify_labels(streams, rows):
    """Every TCP stream of the capture has exactly one label row and every row exactly one
    stream (same 5-tuple, same first/last timestamps to the microsecond)."""
    errors = []
    index = collections.defaultdict(list)
    for i, r in enumerate(rows):
        if r.get("proto") != "tcp":
            errors.append(f"row {i + 2}: proto {r.get('proto')!r}, expected tcp")
        key = (r["src_ip"], int(r["src_port"]), r["dst_ip"], int(r["dst_port"]))
        index[key].append(i)
    hit = collections.Counter()
    for sid, st in streams.items():
        if st["client"] is None:
            errors.append(f"stream {sid}: cannot tell client from server")
            continue
        key = st["client"] + st["server"]
        matches = [i for i in index.get(key, [])
                   if abs(float(rows[i]["first_ts"]) - st["first"]) < 1e-5
                   and abs(float(rows[i]["last_ts"]) - st["last"]) < 1e-5]
        if len(matches) != 1:
            errors.append(f"stream {sid} {key}: {len(matches)} label rows")
        for i in matches:
            hit[i] += 1
    for i in range(len(rows)):
        if hit[i] != 1:
            errors.append(f"label row {i + 2} matches {hit[i]} streams")
    return errors


def class_checks(cls, summary, per_class):
    """What a capture of this class must show. per_class: {label: summary of its streams}."""
    checks = []

    def check(name, ok, detail):
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    mine = per_class.get(cls, {})
    t = {int(k): v for k, v in mine.get("msgtypes", {}).items()}
    if cls != "benign" and "benign" in per_class:
        b = per_class["benign"]
        check("background is clean", b.get("streams_flagged", 0) == 0
              and set(b.get("connack_codes", {})) <= {"0"},
              f"{b['connections']} benign connections, connack {b.get('connack_codes')}")
    if cls == "benign":
        need = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
        check("all message types 1-14", need <= set(t), f"types {sorted(t)}")
        check("MQTT 3.1.1 and 5.0 clients", {"4", "5"} <= set(mine["protocol_levels"]),
              f"levels {mine['protocol_levels']}")
        check("QoS 0, 1 and 2 publishes", {"0", "1", "2"} <= set(mine["publish_qos"]),
              f"qos {mine['publish_qos']}")
        check("retained publishes", mine["retained"] > 0, f"{mine['retained']} retained")
        check("every login accepted", set(mine["connack_codes"]) == {"0"},
              f"connack {mine['connack_codes']}")
        check("nothing malformed or invalid", mine["streams_flagged"] == 0,
              f"{mine['streams_flagged']} flagged streams {mine['anomaly_streams']}")
    elif cls == "flood":
        check("one flooding connection", mine.get("connections") == 1,
              f"{mine.get('connections')} flood connections")
        check("thousands of publishes", t.get(3, 0) >= 1000, f"{t.get(3, 0)} PUBLISH")
        check("QoS 0 and QoS 1", {"0", "1"} <= set(mine.get("publish_qos", {})),
              f"qos {mine.get('publish_qos')}")
    elif cls == "slowite":
        n = mine.get("connections", 0)
        check("keep-alive 65535 on the CONNECTs", mine.get("keepalive_65535", 0) >= 0.6 * n,
              f"{mine.get('keepalive_65535')} CONNECTs with keep-alive 65535 in {n} connections")
        check("at least 100 connections", n >= 100, f"{n} connections")
        check("PINGREQs", t.get(12, 0) > 0, f"{t.get(12, 0)} PINGREQ")
    elif cls == "bruteforce":
        codes = mine.get("connack_codes", {})
        check("CONNACK 5 (not authorized)", codes.get("5", 0) >= 0.9 * mine.get("connections", 0),
              f"connack {codes} in {mine.get('connections')} connections")
    elif cls == "malformed":
        n = mine.get("connections", 0)
        flagged = mine.get("streams_flagged", 0)
        check("tshark shows most connections as malformed/invalid", flagged >= 0.9 * n,
              f"{flagged} of {n} connections flagged: {mine.get('streams_malformed')} with a "
              f"Malformed frame, {mine.get('streams_expert_warn')} with an expert warning or "
              f"error; invalid values: {mine.get('anomaly_streams')}")
    elif cls == "malaria":
        q = mine.get("publish_qos", {})
        n = mine.get("connections", 0)
        check("QoS 1 and 2 publishes", q.get("1", 0) > 0 and q.get("2", 0) > 0, f"qos {q}")
        check("no QoS 0 from the attack", q.get("0", 0) == 0, f"qos {q}")
        check("many connections and topics", n >= 30 and mine.get("distinct_topics", 0) >= 30,
              f"{n} connections, {mine.get('distinct_topics')} topics")
    return checks


def per_class_summaries(streams, rows):
    by = collections.defaultdict(dict)
    for r in rows:
        by[r["class"]][r["_sid"]] = streams[r["_sid"]]
    out = {}
    for label, sts in by.items():
        out[label] = summarize(sts)
    return out
