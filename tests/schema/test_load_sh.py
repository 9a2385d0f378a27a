#!/usr/bin/env python3
"""Runs elastic/load.sh against a local stand-in for Elasticsearch and Kibana (no real cluster):
checks the requests it sends (paths, methods, bodies, authentication) and that it refuses to
replace an existing @custom hook without FORCE=1.

    python3 tests/schema/test_load_sh.py
"""
import http.server
import json
import os
import shutil
import subprocess
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ELASTIC = os.path.join(ROOT, "elastic")
NAME = "logs-suricata.eve@custom"


class Stub(http.server.BaseHTTPRequestHandler):
    existing = set()
    log = []

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path = self.path.replace("%40", "@")
        self.log.append((self.command, path, body, dict(self.headers)))
        code, reply = 200, {"acknowledged": True}
        if self.command == "GET":
            code = 200 if path in self.existing else 404
        if path.endswith("_import?overwrite=true"):
            reply = {"success": True, "successCount": 9}
        data = json.dumps(reply).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = _handle

    def log_message(self, *a):
        pass


@unittest.skipUnless(shutil.which("curl") and shutil.which("bash"), "curl and bash needed")
class LoadSh(unittest.TestCase):
    def setUp(self):
        Stub.log.clear()
        Stub.existing = {"/_data_stream/logs-suricata.eve-default"}
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"

    def tearDown(self):
        self.srv.shutdown()
        self.srv.server_close()

    def run_load(self, **env):
        e = {"PATH": os.environ["PATH"], "ES_URL": self.url, "KIBANA_URL": self.url,
             "ES_USER": "elastic", "ES_PASSWORD": "secret", **env}
        return subprocess.run(["bash", os.path.join(ELASTIC, "load.sh")], env=e,
                              capture_output=True, text=True, timeout=60)

    def test_requests(self):
        r = self.run_load()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        sent = [(m, p) for m, p, _, _ in Stub.log]
        self.assertEqual(sent, [
            ("GET", f"/_component_template/{NAME}"),
            ("GET", f"/_ingest/pipeline/{NAME}"),
            ("PUT", f"/_component_template/{NAME}"),
            ("PUT", f"/_ingest/pipeline/{NAME}"),
            ("GET", "/_data_stream/logs-suricata.eve-default"),
            ("POST", "/logs-suricata.eve-default/_rollover"),
            ("POST", "/api/saved_objects/_import?overwrite=true"),
        ])
        bodies = {p: b for _, p, b, _ in Stub.log}
        with open(os.path.join(ELASTIC, "mqtt-ml-component-template.json"), "rb") as f:
            self.assertEqual(bodies[f"/_component_template/{NAME}"], f.read())
        with open(os.path.join(ELASTIC, "logs-suricata.eve@custom.json"), "rb") as f:
            self.assertEqual(bodies[f"/_ingest/pipeline/{NAME}"], f.read())
        with open(os.path.join(ELASTIC, "kibana-dashboard.ndjson"), "rb") as f:
            self.assertIn(f.read(), bodies["/api/saved_objects/_import?overwrite=true"])
        for m, p, _, h in Stub.log:
            self.assertEqual(h.get("Authorization"), "Basic ZWxhc3RpYzpzZWNyZXQ=", p)
        kb = Stub.log[-1][3]
        self.assertEqual(kb.get("kbn-xsrf"), "true")

    def test_api_key_and_space(self):
        r = self.run_load(ES_USER="", ES_API_KEY="a2V5", KIBANA_SPACE="soc", SKIP_ROLLOVER="1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(Stub.log[-1][1], "/s/soc/api/saved_objects/_import?overwrite=true")
        self.assertTrue(all(h.get("Authorization") == "ApiKey a2V5" for _, _, _, h in Stub.log))

    def test_refuses_to_replace_existing_hook(self):
        Stub.existing.add(f"/_ingest/pipeline/{NAME}")
        r = self.run_load()
        self.assertEqual(r.returncode, 1)
        self.assertIn("FORCE=1", r.stderr)
        self.assertFalse([1 for m, _, _, _ in Stub.log if m != "GET"])
        Stub.log.clear()
        r = self.run_load(FORCE="1", SKIP_KIBANA="1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(("PUT", f"/_ingest/pipeline/{NAME}"), [(m, p) for m, p, _, _ in Stub.log])


if __name__ == "__main__":
    unittest.main(verbosity=1)
