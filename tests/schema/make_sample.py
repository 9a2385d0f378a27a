#!/usr/bin/env python3
"""Regenerates fixtures/eve-sample.json from real plugin output.

Runs Suricata with the plugin (the full record, log-features and log-passwords on, the event
rules loaded) over the project's captures and suricata-verify's MQTT captures, then keeps the
first record that brings something not yet in the sample: a field path, a message type and
direction, or an event, plus the first alert. Run it when the EVE record changes:

    . scripts/env.sh && $MQTT_ML_CACHE/venv/bin/python tests/schema/make_sample.py
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DATASETS = Path(os.environ.get("MQTT_ML_DATASETS", ROOT.parent / "shared" / "datasets"))


def paths(node, prefix=""):
    """Every key path of a JSON object (array items share their parent's path)."""
    if isinstance(node, dict):
        for k, v in node.items():
            p = f"{prefix}.{k}" if prefix else k
            yield p
            yield from paths(v, p)
    elif isinstance(node, list):
        for v in node:
            yield from paths(v, prefix)


def records(pcap: Path, work: Path):
    cmd = [os.environ.get("SURICATA", "suricata"), "-c", os.environ["SURICATA_YAML"],
           "--set", f"plugins.0={ROOT / 'target/release/libmqtt_ml.so'}",
           "--set", "app-layer.protocols.mqtt-ml.scoring=no",
           "--set", "app-layer.protocols.mqtt-ml.log-features=yes",
           "--set", "app-layer.protocols.mqtt-ml.log-passwords=yes",
           "--set", "app-layer.protocols.mqtt-ml.eve-record=full",
           "-S", str(ROOT / "suricata-rules/mqtt-ml-events.rules"),
           "--runmode", "single", "-k", "none", "-r", str(pcap), "-l", str(work)]
    subprocess.run(cmd, check=True, capture_output=True)
    with open(work / "eve.json") as f:
        for line in f:
            d = json.loads(line)
            if d.get("event_type") in ("mqtt_ml", "alert") and "mqtt_ml" in d:
                yield d


def main() -> int:
    pcaps = sorted((ROOT / "pcaps").glob("*.pcap"))
    pcaps += sorted((DATASETS / "suricata-verify").glob("**/*.pcap"))
    seen, sample, alert = set(), [], None
    for pcap in pcaps:
        with tempfile.TemporaryDirectory() as tmp:
            for d in records(pcap, Path(tmp)):
                m = d["mqtt_ml"]
                if d["event_type"] == "alert":
                    alert = alert or d
                    continue
                keys = set(paths(m)) | {("type", m["msgtype_name"], m["direction"])}
                keys |= {("event", e) for e in m.get("events", [])}
                if keys - seen:
                    seen |= keys
                    sample.append(d)
    if alert:
        sample.insert(1, alert)
    out = HERE / "fixtures" / "eve-sample.json"
    out.write_text("".join(json.dumps(d, separators=(",", ":")) + "\n" for d in sample))
    print(f"{out}: {len(sample)} records from {len(pcaps)} captures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
