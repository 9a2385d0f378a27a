"""Pure parts of scripts/gen-corpus.py: environments, address plans, label matching, fuzzer.

    python -m unittest discover -s tests/corpus -p 'test_*.py'

No root, no network, no broker: generation itself is not run here (it takes minutes as root).
"""
import ipaddress
import itertools
import os
import random
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from gen_corpus import envs, fuzz  # noqa: E402
from gen_dataset import check  # noqa: E402
from gen_dataset import mqtt as m  # noqa: E402


def networks(env):
    p = envs.address_plan(env)
    return [ipaddress.ip_network(p["network"])] + \
        [ipaddress.ip_network(lan) for _w, lan in p["routers"].values()]


class AddressPlans(unittest.TestCase):
    def test_each_plan_is_consistent(self):
        for env in envs.ENVS.values():
            self.assertEqual(envs.plan_problems(env), [], env["name"])

    def test_every_device_and_attacker_has_an_address(self):
        for env in envs.ENVS.values():
            p = envs.address_plan(env)
            for d in envs.devices(env):
                where = p["lan"] if d.get("nat") else p["hosts"]
                self.assertIn(d["name"], where, f"{env['name']}/{d['name']}")
            need = envs.attacker_count(env)
            self.assertEqual(len(p["attackers"]), need)
            self.assertEqual(len(set(p["attackers"])), need)

    def test_environments_do_not_overlap(self):
        for a, b in itertools.combinations(envs.ENVS.values(), 2):
            for na in networks(a):
                for nb in networks(b):
                    self.assertFalse(na.overlaps(nb), f"{a['name']} {na} / {b['name']} {nb}")

    def test_plan_problems_catches_a_bad_plan(self):
        bad = dict(envs.HOME, broker_ip="10.9.9.9")
        self.assertTrue(any("10.9.9.9" in x for x in envs.plan_problems(bad)))
        clash = dict(envs.HOME, attackers_from=envs.HOME["hosts_from"])
        self.assertIn("two hosts share an address", envs.plan_problems(clash))
        lan = dict(envs.FLEET_NAT, routers=[{"name": "gw1", "lan": "172.29.40.0/25"},
                                            {"name": "gw2", "lan": "10.200.2.0/24"},
                                            {"name": "gw3", "lan": "10.200.3.0/24"}])
        self.assertTrue(any("overlaps" in x for x in envs.plan_problems(lan)))


class Coverage(unittest.TestCase):
    def test_required_traits_are_covered(self):
        got = set().union(*(envs.traits(e) for e in envs.ENVS.values()))
        self.assertEqual(envs.REQUIRED_TRAITS - got, set())

    def test_traits_are_derived_not_declared(self):
        env = dict(envs.HOME, devices=[envs.dev("x", "paho", "periodic", 4, 60, 0, 1.0, "t")])
        self.assertEqual(envs.traits(env), {"mqtt3.1.1", "anonymous", "qos0", "stack:paho"})

    def test_environments_differ(self):
        combos = set()
        for env in envs.ENVS.values():
            stacks = frozenset(d["stack"] for d in env["devices"])
            combos.add((env["broker"], stacks, env["subnet"]))
        self.assertEqual(len(combos), len(envs.ENVS))
        self.assertGreaterEqual(len(envs.ENVS), 4)
        self.assertGreaterEqual(len({e["broker"] for e in envs.ENVS.values()}), 2)
        all_stacks = {d["stack"] for e in envs.ENVS.values() for d in e["devices"]}
        self.assertGreaterEqual(len(all_stacks - {"mosquitto_sub"}), 4)

    def test_keepalive_range(self):
        kas = [k for e in envs.ENVS.values() for k in envs.keepalives(e)]
        self.assertEqual(min(kas), 5)
        self.assertEqual(max(kas), 1800)

    def test_attack_variants(self):
        for env in envs.ENVS.values():
            a = env["attacks"]
            self.assertEqual(set(a), set(envs.ATTACKS), env["name"])
            self.assertTrue(any(p["pause"][0] >= 2.0 for p in a["bruteforce"]),
                            f"{env['name']}: no slow brute force")
            self.assertGreaterEqual(sum(p["addrs"] for p in a["bruteforce"]), 2)
            self.assertGreaterEqual(a["malaria"]["addrs"], 8, "malaria is not distributed")
            self.assertTrue(any(k < 65535 for p in a["slowite"] for k in p["keepalives"]),
                            f"{env['name']}: SlowITe only at keep-alive 65535")
        payloads = [p["payload"] for e in envs.ENVS.values() for p in e["attacks"]["flood"]]
        self.assertTrue(any(hi <= 64 for _lo, hi in payloads), "no flood of small messages")
        self.assertTrue(any(lo >= 10_000 for lo, _hi in payloads), "no flood of large messages")
        self.assertEqual(envs.CLASSES, ["benign", "bruteforce", "flood", "malaria", "malformed",
                                        "slowite"])

    def test_later_runs_vary_attack_parameters(self):
        for env in envs.ENVS.values():
            for cls, spec in env["attacks"].items():
                v = envs.vary_attack(spec, random.Random(7))
                self.assertEqual(v, envs.vary_attack(spec, random.Random(7)), "not deterministic")
                self.assertNotEqual(v, spec, f"{env['name']}/{cls}: run b replays run a")
                parts, vparts = (spec, v) if isinstance(spec, list) else ([spec], [v])
                for p, q in zip(parts, vparts):
                    # the address plan is sized from these, so they must not move
                    self.assertEqual(p["addrs"], q["addrs"])
                    self.assertEqual(p.get("keepalives"), q.get("keepalives"))
                    for k, x in p.items():
                        if isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 4:
                            self.assertTrue(0.4 * x <= q[k] <= 2.1 * x, f"{cls}.{k}: {q[k]}")


def stream(cip, cport, first, last, sip="10.0.0.1"):
    return {"client": (cip, cport), "server": (sip, 1883), "first": first, "last": last}


def rec(label, port, ip, t0, t1):
    return {"label": label, "port": port, "ip": ip, "t0": t0, "t1": t1}


class Labels(unittest.TestCase):
    def test_same_port_on_two_hosts(self):
        # Hosts in different namespaces pick ports independently: the address tells them apart.
        streams = {0: stream("10.0.0.5", 40000, 100.0, 101.0),
                   1: stream("10.0.0.6", 40000, 100.2, 101.0)}
        records = [rec("benign", 40000, "10.0.0.6", 99.9, 101.1),
                   rec("flood", 40000, "10.0.0.5", 99.8, 101.1)]
        rows, errors = check.label_streams(streams, records)
        self.assertEqual(errors, [])
        self.assertEqual({r["src_ip"]: r["class"] for r in rows},
                         {"10.0.0.5": "flood", "10.0.0.6": "benign"})

    def test_host_label_for_unrecorded_ports(self):
        streams = {0: stream("10.0.0.50", 33000, 5.0, 6.0),     # a NAT router
                   1: stream("10.0.0.9", 34000, 5.0, 6.0)}      # nobody we know
        rows, errors = check.label_streams(streams, [], host_labels={"10.0.0.50": "benign"})
        self.assertEqual([r["class"] for r in rows], ["benign"])
        self.assertEqual(len(errors), 1)
        self.assertIn("no recorded connection", errors[0])

    def test_record_against_host_label(self):
        streams = {0: stream("10.0.0.5", 40000, 100.0, 101.0)}
        records = [rec("malaria", 40000, "10.0.0.5", 99.9, 101.1)]
        _rows, errors = check.label_streams(streams, records, host_labels={"10.0.0.5": "benign"})
        self.assertEqual(len(errors), 1)
        self.assertIn("recorded as malaria", errors[0])

    def test_recorded_connection_missing_from_capture(self):
        records = [rec("benign", 41000, "10.0.0.5", 1.0, 2.0)]
        _rows, errors = check.label_streams({}, records)
        self.assertEqual(len(errors), 1)

    def test_written_labels_verify(self):
        streams = {0: stream("10.0.0.5", 40000, 100.0, 101.5),
                   1: stream("10.0.0.50", 40001, 100.5, 102.0)}
        rows, errors = check.label_streams(
            streams, [rec("bruteforce", 40000, "10.0.0.5", 99.9, 101.6)],
            host_labels={"10.0.0.50": "benign"})
        self.assertEqual(errors, [])
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.labels.csv")
            check.write_labels(path, rows)
            back = check.read_labels(path)
            with open(path) as f:
                self.assertEqual(f.readline().strip(), ",".join(check.LABEL_FIELDS))
        self.assertEqual(check.verify_labels(streams, back), [])
        back[0]["last_ts"] = "999.0"
        self.assertNotEqual(check.verify_labels(streams, back), [])


class Fuzzer(unittest.TestCase):
    def test_cases_mutate_valid_messages(self):
        valid = {v[3] for v in fuzz.valid_messages(random.Random(7))}
        for creds in (None, ("plc", "secret")):
            for name, f in fuzz.cases(creds):
                chunks = f(random.Random(7))
                self.assertTrue(1 <= len(chunks) <= 2, name)
                self.assertTrue(all(isinstance(c, bytes) and c for c in chunks), name)
                if len(chunks) == 2:
                    self.assertEqual(chunks[0][0] >> 4, m.CONNECT, name)
                    if creds:
                        self.assertIn(b"plc", chunks[0], name)
                self.assertNotIn(chunks[-1], valid, f"{name} left the message valid")

    def test_deterministic(self):
        for name, f in fuzz.cases():
            self.assertEqual(f(random.Random(3)), f(random.Random(3)), name)

    def test_every_mutation_used(self):
        names = {n.rsplit("_", 1)[0] for n, _f in fuzz.cases()}
        self.assertEqual(names, set(fuzz.MUTATIONS))


if __name__ == "__main__":
    unittest.main()
