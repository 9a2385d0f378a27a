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



class Quirks(unittest.TestCase):
    def test_subscribe_options_byte_excused_beside_well_formed_topics(self):
        t = {"msgtype": 8, "len": 35, "msgid": 173, "sub_topics": [
            {"topic": "home/kitchen/plug", "qos": 1}, {"topic": "alarm/s", "qos": 116}]}
        e = {"msgtype": 8, "len": 35, "msgid": 173, "malformed": True, "sub_topics": [
            {"topic": "home/kitchen/plug", "qos": 1}, {"topic": "alarm/s", "qos": 0}]}
        self.assertTrue(evaluate(t, e)["ok"])
        # Any other difference still fails: a wrong low two bits, or a differing topic.
        e["sub_topics"][1]["qos"] = 1
        self.assertFalse(evaluate(t, e)["ok"])
        e["sub_topics"][1]["qos"] = 0
        e["sub_topics"][0]["qos"] = 2
        self.assertFalse(evaluate(t, e)["ok"])

    def test_out_of_order_frame_excused_only_for_the_last_byte_segment(self):
        last = {"frame": 29, "frame_time": 1.25, "tcp_len": 293, "tcp_flags": 24}
        t = dict(PUBLISH, ws_last_segment=last)
        e = dict(PUBLISH, tcp={"ts": 1.25, "len": 293, "flags": 24})
        self.assertTrue(evaluate(t, e)["ok"])
        self.assertEqual(evaluate(t, e)["fields_excused"], 2)   # tcp.ts and tcp.len
        # A context that is neither frame's fails, and so does the same without the marker.
        self.assertFalse(evaluate(t, dict(e, tcp={"ts": 1.3, "len": 293, "flags": 24}))["ok"])
        self.assertFalse(evaluate(PUBLISH, e)["ok"])

    def test_length_of_a_cut_connect_string_excused_only_without_its_value(self):
        t = {"msgtype": 1, "len": 79, "passwd_len": 101, "ws_malformed": True}
        e = {"msgtype": 1, "len": 79, "malformed": True, "events": ["truncated"]}
        self.assertTrue(evaluate(t, e)["ok"])
        # A password tshark decoded whole is not a cut one.
        self.assertFalse(evaluate(dict(t, passwd="pw"), e)["ok"])
        self.assertFalse(evaluate(t, dict(e, events=["invalid_utf8"]))["ok"])

    def test_resynced_record_excused_only_after_an_unframeable_header(self):
        def rec(index, m):
            return {"m": dict(m, direction="to_server", msg_index=index), "line": index,
                    "src": ("10.0.0.1", 40000), "dst": ("10.0.0.2", 1883), "flow_id": 7,
                    "key": "k"}
        header = rec(1, {"msgtype": 1, "malformed": True, "events": ["bad_remaining_length"]})
        resynced = rec(2, {"msgtype": 3, "malformed": True, "events": ["resync"]})
        s = compare.evaluate([], [], [header, resynced], True, 10)
        self.assertTrue(s["ok"])
        self.assertEqual(s["eve_only_excused"], 2)
        # Without the header before it, a resynced record is not excused.
        s = compare.evaluate([], [], [resynced], True, 10)
        self.assertFalse(s["ok"])


if __name__ == "__main__":
    unittest.main()
