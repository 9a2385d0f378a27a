#!/usr/bin/env python3
"""Self-test of compare.py's bookkeeping (no tshark needed): a field one side stops producing
fails the comparison unless quirks.NOT_PRODUCED lists it for that side and that message.

    python3 -m unittest discover -s tests/reference -p 'test_*.py'
"""
import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


def pair(t_fields, e_fields):
    t = {"tcp_stream": 0, "src": "10.0.0.1", "sport": 40000, "dst": "10.0.0.2", "dport": 1883,
         "frame": 4, "frame_index": 0, "direction": "to_server", "frame_time": 1.5,
         "tcp_flags": 24, "tcp_len": 10}
    t.update(t_fields)
    r = {"m": dict(e_fields, direction="to_server", msg_index=1),
         "src": ("10.0.0.1", 40000), "dst": ("10.0.0.2", 1883), "line": 1, "flow_id": 1}
    return t, r


def evaluate(t_fields, e_fields):
    t, r = pair(t_fields, e_fields)
    return compare.evaluate([(t, r)], [], [], True, 10)


PUBLISH = {"msgtype": 3, "len": 7, "topic": "a/b", "topic_len": 3, "qos": 0}


class Presence(unittest.TestCase):
    def test_same_fields_pass(self):
        self.assertTrue(evaluate(PUBLISH, PUBLISH)["ok"])

    def test_field_missing_on_eve_fails(self):
        e = dict(PUBLISH)
        del e["topic"]
        s = evaluate(PUBLISH, e)
        self.assertFalse(s["ok"])
        self.assertEqual(s["fields_missing"], 1)
        self.assertEqual(s["first_missing"][0]["missing_on"], "eve")

    def test_field_missing_on_tshark_fails(self):
        t = dict(PUBLISH)
        del t["qos"]
        s = evaluate(t, PUBLISH)
        self.assertFalse(s["ok"])
        self.assertEqual(s["first_missing"][0]["missing_on"], "tshark")

    def test_listed_fields_are_excused_only_where_they_apply(self):
        connect_t = {"msgtype": 1, "len": 20, "passwd": "pw", "passwd_len": 2}
        connect_e = {"msgtype": 1, "len": 20, "passwd_len": 2}
        self.assertTrue(evaluate(connect_t, connect_e)["ok"])
        # Without passwd_len the password is simply gone: not excused.
        self.assertFalse(evaluate(connect_t, {"msgtype": 1, "len": 20})["ok"])
        # A payload left out is excused for a malformed message only.
        t = dict(PUBLISH, msg="hi", msg_len=2)
        self.assertTrue(evaluate(t, dict(PUBLISH, malformed=True))["ok"])
        self.assertFalse(evaluate(t, dict(PUBLISH, malformed=False))["ok"])
        # Scoring fields are EVE's own.
        scored = dict(PUBLISH, score=0.1, threshold=0.05, anomaly=True, top_features=[])
        self.assertTrue(evaluate(PUBLISH, scored)["ok"])


if __name__ == "__main__":
    unittest.main()
