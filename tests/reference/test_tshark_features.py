#!/usr/bin/env python3
"""Self-test of the feature oracle's arithmetic (no tshark needed), on hand-made messages.

    python3 -m unittest discover -s tests/reference -p 'test_*.py'
"""
import math
import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tshark_features as tf  # noqa: E402

CLIENT, BROKER = "10.0.0.9", "10.0.0.1"


def msg(frame, t, stream, direction, **fields):
    to_server = direction == "to_server"
    m = {"frame": frame, "frame_index": 0, "frame_time": t, "tcp_stream": stream,
         "direction": direction, "src": CLIENT if to_server else BROKER,
         "dst": BROKER if to_server else CLIENT}
    m.update(fields)
    return m


def connect(frame, t, stream, user="u", pw="p"):
    return msg(frame, t, stream, "to_server", msgtype=1, len=20, username=user, passwd=pw)


def connack(frame, t, stream, code):
    return msg(frame, t, stream, "to_client", msgtype=2, len=2, conack_val=code)


class Oracle(unittest.TestCase):
    def test_decayed_rates_and_wire_length(self):
        a = connect(1, 100.0, 0)
        b = msg(2, 105.0, 0, "to_server", msgtype=3, len=300, qos=0)
        tf.oracle([a, b], {})
        self.assertEqual(a["oracle"]["flow_msg_rate"], (0.1, 0.1))
        self.assertAlmostEqual(a["oracle"]["flow_byte_rate"][0], 2.2)   # 22 bytes / 10 s
        rate = (math.exp(-0.5) + 1) / 10
        self.assertAlmostEqual(b["oracle"]["flow_msg_rate"][0], rate)
        # 300 bytes of body: a two-byte remaining length, 303 on the wire.
        self.assertAlmostEqual(b["oracle"]["flow_byte_rate"][0], (22 * math.exp(-0.5) + 303) / 10)

    def test_qos2_age_from_publish_to_pubcomp(self):
        msgs = [msg(1, 10.0, 0, "to_server", msgtype=3, len=5, qos=2),
                msg(2, 10.5, 0, "to_server", msgtype=3, len=5, qos=2, dupflag=True),
                msg(3, 11.0, 0, "to_client", msgtype=5, len=2),
                msg(4, 12.0, 0, "to_client", msgtype=7, len=2),
                msg(5, 13.0, 0, "to_server", msgtype=12, len=0)]
        tf.oracle(msgs, {})
        self.assertEqual([m["oracle"]["qos2_pending_age"][0] for m in msgs],
                         [0.0, 0.5, 1.0, 0.0, 0.0])

    def test_refusals_per_connection_and_client(self):
        msgs = [connect(1, 0.0, 0, pw="a"), connack(2, 0.1, 0, 5),
                connect(3, 1.0, 1, pw="b"), connack(4, 1.1, 1, 135),
                connect(5, 2.0, 2, pw="b"), connack(6, 2.1, 2, 5),
                connect(7, 3.0, 3, pw="c"), connack(8, 3.1, 3, 0)]
        tf.oracle(msgs, {})
        last_refusal, accepted = msgs[5]["oracle"], msgs[7]["oracle"]
        self.assertEqual(last_refusal["refused"], (1, 1))
        self.assertEqual(last_refusal["flow_failed_auth"], (1, 1))
        self.assertEqual(last_refusal["src_failed_auth"], (3, 3))
        self.assertEqual(last_refusal["src_refused_secrets"], (2, 2))   # "a" and "b"
        self.assertEqual(accepted["refused"], (0, 0))
        # Refused connections are no longer open; the accepted one is. A refusal still counts
        # its own connection.
        self.assertEqual(accepted["src_open"], (1, 1))
        self.assertEqual(last_refusal["src_open"], (1, 1))

    def test_a_protocol_version_refusal_is_no_failed_login(self):
        # A 3.1.1 broker refusing an MQTT 5 CONNECT (return code 1): refused, not a login.
        msgs = [connect(1, 0.0, 0, pw="a"), connack(2, 0.1, 0, 1)]
        tf.oracle(msgs, {})
        self.assertEqual(msgs[1]["oracle"]["refused"], (1, 1))
        self.assertEqual(msgs[1]["oracle"]["flow_failed_auth"], (0, 0))
        self.assertEqual(msgs[1]["oracle"]["src_failed_auth"], (0, 0))

    def test_window_edges_are_bounds(self):
        msgs = [connect(1, 0.0, 0), connack(2, 0.0, 0, 5), connect(3, 55.0, 1),
                connack(4, 55.0, 1, 5), connect(5, 61.0, 2), connack(6, 61.0, 2, 5)]
        tf.oracle(msgs, {})
        self.assertEqual(msgs[3]["oracle"]["src_failed_auth"], (1, 2))   # 55 s: maybe gone
        self.assertEqual(msgs[5]["oracle"]["src_failed_auth"], (2, 2))   # 61 s: gone; 6 s: in

    def test_tcp_close_makes_open_a_bound(self):
        msgs = [connect(1, 0.0, 0), connect(3, 5.0, 1)]
        tf.oracle(msgs, {0: 2.0})
        self.assertEqual(msgs[1]["oracle"]["src_open"], (1, 2))

    def test_parse_order_follows_acknowledgements(self):
        # Stream 0's CONNECT (frame 1) is acknowledged only at frame 4, after stream 1's CONNECT
        # (frame 2, acknowledged at frame 3): the client counters see stream 1 first.
        packets = {
            0: [{"frame": 1, "time": 0.0, "sender": (CLIENT, 5000), "nxtseq": 21, "ack": 1,
                 "flags": 0x18},
                {"frame": 4, "time": 0.3, "sender": (BROKER, 1883), "nxtseq": 1, "ack": 21,
                 "flags": 0x10}],
            1: [{"frame": 2, "time": 0.1, "sender": (CLIENT, 5001), "nxtseq": 21, "ack": 1,
                 "flags": 0x18},
                {"frame": 3, "time": 0.2, "sender": (BROKER, 1883), "nxtseq": 1, "ack": 21,
                 "flags": 0x10}],
        }
        a, b = connect(1, 0.0, 0), connect(2, 0.1, 1)
        tf.set_parse_order([a, b], packets)
        self.assertEqual((a["parsed_at"], b["parsed_at"]), (4, 3))
        tf.oracle([a, b], {})
        self.assertEqual(b["oracle"]["src_open"], (1, 1))
        self.assertEqual(a["oracle"]["src_open"], (2, 2))

    def test_check_pair_transforms_and_tolerates_float32_only(self):
        t = connect(1, 0.0, 0)
        tf.oracle([t], {})
        vec = [1.0, 0.0, 0.0, 0.0, math.log1p(0.1), math.log1p(2.2), 0.0, 0.0,
               0.0, 0.0, math.log(2)]
        ok = {n: good for n, _, _, _, good in tf.check_pair(t, {"m": {"features": vec}})}
        self.assertTrue(all(ok.values()), ok)
        self.assertNotIn("malformed", ok)
        vec[4] += 1e-4
        ok = {n: good for n, _, _, _, good in tf.check_pair(t, {"m": {"features": vec}})}
        self.assertFalse(ok["flow_msg_rate"])

    def test_schema_must_be_the_oracles(self):
        schema = {"version": 4, "features": [n for n, _ in tf.FEATURES],
                  "transforms": [k for _, k in tf.FEATURES]}
        self.assertEqual(tf.schema_problems(schema), [])
        schema["transforms"][4] = "identity"
        self.assertTrue(tf.schema_problems(schema))


if __name__ == "__main__":
    unittest.main()
