#!/usr/bin/env python3
"""Self-test of docs/eve.schema.json and the two validators of validate_eve.py.

    python3 tests/schema/test_schema.py        (stdlib unittest; jsonschema cases skip when absent)

- fixtures/eve-sample.json (real plugin output: one record per field, message type and event seen
  over the bundled and suricata-verify captures, with log-features and log-passwords on) is valid;
- the same records with the scoring fields a loaded model adds are valid, including a score of 0
  written as an integer;
- each of a list of mutations (undocumented field at every level, wrong types, bad enums, ranges,
  inconsistent fields) is rejected, by the built-in validator and by jsonschema alike;
- the schema's enums agree with docs/events.md and docs/features.md, and every field it defines is
  named in docs/eve.md.
"""
import copy
import json
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import validate_eve  # noqa: E402

with open(os.path.join(ROOT, "docs", "eve.schema.json"), encoding="utf-8") as _f:
    SCHEMA = json.load(_f)
ENTRY = "#/$defs/eve_record"
with open(os.path.join(HERE, "fixtures", "eve-sample.json"), encoding="utf-8") as _f:
    SAMPLE = [json.loads(line) for line in _f if line.strip()]


def validators():
    out = [validate_eve.BuiltinValidator(SCHEMA, ENTRY)]
    try:
        out.append(validate_eve.JsonschemaValidator(SCHEMA, ENTRY))
    except ImportError:
        pass
    return out


VALIDATORS = validators()


def scored(rec, score=0.0357142873108387, top=3):
    """A record as logged with a model loaded: scoring fields first, as the plugin writes them."""
    r = copy.deepcopy(rec)
    names = ["malformed", "flow_msg_rate", "src_open"][:top]
    m = {"score": score, "threshold": 0.02, "anomaly": score > 0.02,
         "above_threshold": score > 0.02,
         "evidence": {"connection": 1.0, "client": 0,
                      "reason": "extreme" if score > 0.02 else "none"},
         "top_features": [{"name": n, "error": 0.5 / (i + 1)} for i, n in enumerate(names)]}
    m.update(r["mqtt_ml"])
    r["mqtt_ml"] = m
    return r


def first(pred):
    return copy.deepcopy(next(r for r in SAMPLE if pred(r)))


def publish():
    return first(lambda r: r["event_type"] == "mqtt_ml" and r["mqtt_ml"]["msgtype"] == 3)


def connect_v5():
    return first(lambda r: "will_properties" in r.get("mqtt_ml", {})
                 and "user_properties" in r["mqtt_ml"].get("properties", {}))


def subscribe():
    return first(lambda r: "sub_topics" in r["mqtt_ml"] and r["mqtt_ml"]["sub_topics"])


def mutate(base, fn):
    r = base()
    fn(r["mqtt_ml"] if "mqtt_ml" in r else r)
    return r


def setitem(path, value):
    def fn(m):
        *parents, last = path
        for p in parents:
            m = m[p]
        m[last] = value
    return fn


def delitem(*path):
    def fn(m):
        *parents, last = path
        for p in parents:
            m = m[p]
        del m[last]
    return fn


INVALID = {
    "undocumented top-level field": mutate(publish, setitem(["new_field"], 1)),
    "undocumented tcp field": mutate(publish, setitem(["tcp", "window"], 1)),
    "undocumented flow field": mutate(publish, setitem(["flow", "bytes"], 1)),
    "undocumented src field": mutate(publish, setitem(["src", "publishes"], 1)),
    "undocumented property": mutate(connect_v5, setitem(["properties", "foo"], 1)),
    "undocumented will property": mutate(connect_v5, setitem(["will_properties", "foo"], "x")),
    "undocumented user_properties member": mutate(connect_v5, lambda m: m["properties"]["user_properties"][0].update(x=1)),
    "undocumented sub_topics member": mutate(subscribe, lambda m: m["sub_topics"][0].update(nl=True)),
    "undocumented top_features member": scored(publish()),
    "score as string": mutate(lambda: scored(publish()), setitem(["score"], "0.1")),
    "score negative": mutate(lambda: scored(publish()), setitem(["score"], -0.5)),
    "anomaly as integer": mutate(lambda: scored(publish()), setitem(["anomaly"], 1)),
    "four top_features": scored(publish()),
    "unknown feature name": mutate(lambda: scored(publish()), lambda m: m["top_features"][0].update(name="tcp_window")),
    "score without threshold": mutate(lambda: scored(publish()), delitem("threshold")),
    "27 features": mutate(publish, lambda m: m["features"].pop()),
    "feature as string": mutate(publish, lambda m: m["features"].__setitem__(0, "24")),
    "bad direction": mutate(publish, setitem(["direction"], "up")),
    "msgtype_name not matching msgtype": mutate(publish, setitem(["msgtype_name"], "connect")),
    "unknown msgtype_name": mutate(publish, setitem(["msgtype_name"], "PUBLISH")),
    "msgtype above 15": mutate(publish, setitem(["msgtype"], 16)),
    "unknown event": mutate(publish, setitem(["events"], ["evil"])),
    "empty events": mutate(publish, setitem(["events"], [])),
    "repeated event": mutate(publish, setitem(["events"], ["gap", "gap"])),
    "negative counter": mutate(publish, setitem(["flow", "msg_count_ts"], -1)),
    "fractional counter": mutate(publish, setitem(["len"], 1.5)),
    "boolean counter": mutate(publish, setitem(["src", "connects"], True)),
    "qos 4": mutate(publish, setitem(["qos"], 4)),
    "dupflag on non-PUBLISH": mutate(connect_v5, setitem(["dupflag"], False)),
    "PUBLISH without qos": mutate(publish, delitem("qos")),
    "missing tcp": mutate(publish, delitem("tcp")),
    "missing tcp.ts": mutate(publish, delitem("tcp", "ts")),
    "tcp.ts as string": mutate(publish, setitem(["tcp", "ts"], "1585066890.254499")),
    "failed_auth_rate above 1": mutate(publish, setitem(["flow", "failed_auth_rate"], 1.5)),
    "msg_truncated false": mutate(publish, setitem(["msg_truncated"], False)),
    "protocol_version 6": mutate(publish, setitem(["protocol_version"], 6)),
    "msgid above 65535": mutate(publish, setitem(["msgid"], 65536)),
    "malformed as string": mutate(publish, setitem(["malformed"], "false")),
    "mqtt_ml record without object": {k: v for k, v in publish().items() if k != "mqtt_ml"},
    "object not an object": dict(publish(), mqtt_ml=[]),
    "unknown event_type carrying the object": dict(publish(), event_type="mqtt"),
}
INVALID["undocumented top_features member"]["mqtt_ml"]["top_features"][0]["rank"] = 1
INVALID["four top_features"]["mqtt_ml"]["top_features"].append({"name": "len", "error": 0.1})


class Schema(unittest.TestCase):
    def assertValid(self, rec, what):
        for v in VALIDATORS:
            errs = v.errors(rec)
            self.assertEqual(errs, [], f"{what} [{v.name}]")

    def test_metaschema(self):
        try:
            import jsonschema
        except ImportError:
            self.skipTest("jsonschema not installed")
        jsonschema.Draft202012Validator.check_schema(SCHEMA)

    def test_real_records_valid(self):
        self.assertGreaterEqual(len(SAMPLE), 10)
        for i, r in enumerate(SAMPLE):
            self.assertValid(r, f"sample line {i + 1}")

    def test_scored_records_valid(self):
        for i, r in enumerate(SAMPLE):
            self.assertValid(scored(r), f"scored sample line {i + 1}")
        self.assertValid(scored(publish(), score=0, top=1), "score 0 written as an integer, one top feature")
        r = scored(publish())
        r["mqtt_ml"].update(score=0, threshold=0, top_features=[])
        self.assertValid(r, "empty top_features")

    def test_default_records_valid(self):
        # The default record (`eve-record: default`) is the full one without these fields.
        full_only = {"hdrflags", "dupflag", "len", "topic_len", "msg", "msg_truncated",
                     "proto_len", "protoname", "ver", "conflag_reserved", "conflag_cleansess",
                     "conflag_willflag", "conflag_qos", "conflag_retain", "conflag_passwd",
                     "conflag_uname", "clientid_len", "willtopic_len", "willtopic", "willmsg_len",
                     "willmsg", "username_len", "passwd_len", "properties", "will_properties",
                     "conack_flags", "conack_flags_reserved"}
        for i, r in enumerate(SAMPLE):
            lean = copy.deepcopy(r)
            if "mqtt_ml" in lean:
                for k in full_only:
                    lean["mqtt_ml"].pop(k, None)
                lean["mqtt_ml"]["tcp"].pop("timed_by_packet", None)
                for k in ("duration", "msg_count_ts", "msg_count_tc", "failed_auth_rate"):
                    lean["mqtt_ml"]["flow"].pop(k, None)
            self.assertValid(lean, f"default-shape sample line {i + 1}")
            self.assertValid(scored(lean), f"scored default-shape sample line {i + 1}")

    def test_alert_without_object_valid(self):
        a = first(lambda r: r["event_type"] == "alert")
        del a["mqtt_ml"]
        self.assertValid(a, "alert on another protocol")

    def test_mutations_rejected(self):
        for what, rec in INVALID.items():
            for v in VALIDATORS:
                self.assertNotEqual(v.errors(rec), [], f"accepted: {what} [{v.name}]")

    def test_builtin_refuses_unknown_keywords(self):
        s = copy.deepcopy(SCHEMA)
        s["$defs"]["mqtt_ml"]["properties"]["topic"]["pattern"] = "^x"
        with self.assertRaises(ValueError):
            validate_eve.BuiltinValidator(s, ENTRY)


def doc(name):
    with open(os.path.join(ROOT, "docs", name), encoding="utf-8") as f:
        return f.read()


def table_names(text):
    return [m.group(1) for m in re.finditer(r"^\|\s*(?:\d+\s*\|\s*)?`([a-z0-9_]+)`\s*\|", text, re.M)]


class Docs(unittest.TestCase):
    defs = SCHEMA["$defs"]

    def test_events_match_docs(self):
        enum = self.defs["mqtt_ml"]["properties"]["events"]["items"]["enum"]
        self.assertEqual(sorted(enum), sorted(table_names(doc("events.md"))))

    def test_features_match_docs(self):
        enum = self.defs["mqtt_ml"]["properties"]["top_features"]["items"]["properties"]["name"]["enum"]
        self.assertEqual(enum, table_names(doc("features.md")))
        feats = self.defs["mqtt_ml"]["properties"]["features"]
        self.assertEqual((feats["minItems"], feats["maxItems"]), (len(enum), len(enum)))

    def test_every_field_named_in_eve_md(self):
        text = doc("eve.md")
        scoring = {"score", "threshold", "anomaly", "top_features", "features", "name", "error"}
        missing = []

        def walk(node, prefix):
            if "$ref" in node:
                node = self.defs[node["$ref"].split("/")[-1]]
            if node.get("type") == "array":
                node = node["items"]
            for k, sub in node.get("properties", {}).items():
                name = f"{prefix}.{k}" if prefix in ("tcp", "flow", "src", "evidence") else k
                named = re.search(rf"`{re.escape(name)}\b", text) or f'"{k}"' in text
                if k not in scoring and not named:
                    missing.append(name)
                walk(sub, k)

        walk(self.defs["mqtt_ml"], "")
        self.assertEqual(missing, [], "fields in the schema but not in docs/eve.md")


if __name__ == "__main__":
    unittest.main(verbosity=1)
