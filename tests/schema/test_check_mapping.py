#!/usr/bin/env python3
"""Self-test of check_mapping.py: the shipped assets pass; each defect below is caught.

    python3 tests/schema/test_check_mapping.py
"""
import contextlib
import copy
import io
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import check_mapping  # noqa: E402

ELASTIC = os.path.join(ROOT, "elastic")
SAMPLE = os.path.join(HERE, "fixtures", "eve-sample.json")


def read(name):
    with open(os.path.join(ELASTIC, name), encoding="utf-8") as f:
        return f.read()


TEMPLATE = json.loads(read("mqtt-ml-component-template.json"))
PIPELINE = json.loads(read("logs-suricata.eve@custom.json"))
DASHBOARD = read("kibana-dashboard.ndjson")


def mqtt_ml_props(tpl):
    return tpl["template"]["mappings"]["properties"]["suricata"]["properties"]["eve"]["properties"]["mqtt_ml"]


class CheckMapping(unittest.TestCase):
    def run_check(self, template=None, pipeline=None, dashboard=None, eve=(SAMPLE,)):
        with tempfile.TemporaryDirectory() as d:
            args = list(eve)
            for flag, value, name in (("--template", template, "t.json"), ("--pipeline", pipeline, "p.json"),
                                      ("--dashboard", dashboard, "d.ndjson")):
                if value is None:
                    continue
                path = os.path.join(d, name)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(value if isinstance(value, str) else json.dumps(value))
                args += [flag, path]
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = check_mapping.main(args)
            return rc, out.getvalue()

    def assertCaught(self, needle, **kw):
        rc, out = self.run_check(**kw)
        self.assertEqual(rc, 1, out)
        self.assertIn(needle, out)

    def test_shipped_assets_pass(self):
        rc, out = self.run_check()
        self.assertEqual(rc, 0, out)

    def test_dynamic_true(self):
        t = copy.deepcopy(TEMPLATE)
        mqtt_ml_props(t)["dynamic"] = True
        self.assertCaught("must be false or strict", template=t)

    def test_dynamic_back_on_below(self):
        t = copy.deepcopy(TEMPLATE)
        mqtt_ml_props(t)["properties"]["flow"]["dynamic"] = True
        self.assertCaught("turns dynamic mapping back on", template=t)

    def test_unmapped_field(self):
        t = copy.deepcopy(TEMPLATE)
        del mqtt_ml_props(t)["properties"]["flow"]["properties"]["failed_auth_rate"]
        self.assertCaught("suricata.eve.mqtt_ml.flow.failed_auth_rate: in the schema", template=t)

    def test_score_as_long(self):
        t = copy.deepcopy(TEMPLATE)
        mqtt_ml_props(t)["properties"]["score"] = {"type": "long"}
        self.assertCaught("suricata.eve.mqtt_ml.score: schema number, mapped long", template=t)

    def test_timestamp_as_float(self):
        t = copy.deepcopy(TEMPLATE)
        mqtt_ml_props(t)["properties"]["tcp"]["properties"]["ts"] = {"type": "float"}
        self.assertCaught("tcp.ts: values up to", template=t)

    def test_counter_as_keyword(self):
        t = copy.deepcopy(TEMPLATE)
        mqtt_ml_props(t)["properties"]["msg_index"] = {"type": "keyword"}
        self.assertCaught("msg_index: schema integer, mapped keyword", template=t)

    def test_nested_array_as_keyword(self):
        t = copy.deepcopy(TEMPLATE)
        mqtt_ml_props(t)["properties"]["sub_topics"] = {"type": "keyword"}
        self.assertCaught("sub_topics: schema object, mapped keyword", template=t)

    def test_field_emitted_but_not_in_schema(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            with open(SAMPLE, encoding="utf-8") as src:
                rec = json.loads(src.readline())
            rec["mqtt_ml"]["flow"]["rtt"] = 0.5
            f.write(json.dumps(rec) + "\n")
        try:
            self.assertCaught("flow.rtt: emitted (float) but not in the schema", eve=(f.name,))
        finally:
            os.unlink(f.name)

    def test_pipeline_unmapped_target(self):
        p = copy.deepcopy(PIPELINE)
        p["processors"].append({"set": {"field": "suricata.eve.mqtt_ml.verdict", "value": "x"}})
        self.assertCaught("writes suricata.eve.mqtt_ml.verdict, which is not mapped", pipeline=p)

    def test_pipeline_not_json(self):
        self.assertCaught("not valid JSON", pipeline="{")

    def test_dashboard_unmapped_field(self):
        d = DASHBOARD.replace("suricata.eve.mqtt_ml.topic\\\"", "suricata.eve.mqtt_ml.topics\\\"", 1)
        self.assertNotEqual(d, DASHBOARD)
        self.assertCaught("uses suricata.eve.mqtt_ml.topics, which is not mapped", dashboard=d)

    def test_dashboard_dangling_reference(self):
        lines = DASHBOARD.splitlines()
        d = "\n".join(l for l in lines if '"type":"index-pattern","typeMigrationVersion"' not in l) + "\n"
        self.assertNotEqual(d.count("\n"), len(lines))
        self.assertCaught("not in the file", dashboard=d)

    def test_dashboard_not_ndjson(self):
        self.assertCaught("not JSON", dashboard=DASHBOARD + "{oops\n")


if __name__ == "__main__":
    unittest.main(verbosity=1)
