"""Cross-check: the plugin, loading the freshly exported model, must score as Python does.

Runs Suricata once more on a small capture with scoring on (and feature logging, so each record
carries both its features and the plugin's score) and compares the plugin's score with the
Python mirror (scaling.py + the TFLite flatbuffer). A mismatch means training and deployment
disagree on scaling or on the model, which no metric in the report would reveal. The features
themselves are checked against Wireshark's fields by tests/reference/tshark_features.py (the
end-to-end test features_match_tshark_oracle), since this check takes them from the plugin.
"""

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import config, model, scaling

CMD = r'''
set -e
. scripts/env.sh
exec suricata -c "$SURICATA_YAML" --set plugins.0="$1" \
  --set app-layer.protocols.mqtt-ml.scoring=yes \
  --set app-layer.protocols.mqtt-ml.model="$4" \
  --set app-layer.protocols.mqtt-ml.backend="$5" \
  --set app-layer.protocols.mqtt-ml.log-features=yes \
  --runmode single -k none -r "$2" -l "$3"
'''


def check(plugin: Path, pcap: Path, tflite_path: Path, lo, hi, flatbuffer: bytes,
          backend: str = "native") -> dict:
    work = Path(tempfile.mkdtemp(prefix="mqtt-ml-verify-"))
    try:
        p = subprocess.run(["bash", "-c", CMD, "suricata", str(plugin), str(pcap), str(work),
                            str(tflite_path), backend], cwd=config.REPO, capture_output=True,
                           text=True, timeout=600)
        eve = work / "eve.json"
        if p.returncode != 0 or not eve.exists():
            return {"ok": False, "error": (p.stderr or p.stdout)[-500:].strip()}
        feats, plug = [], []
        with open(eve, "rb") as f:
            for line in f:
                if b'"event_type":"mqtt_ml"' in line:
                    m = json.loads(line)["mqtt_ml"]
                    if "score" in m and "features" in m:
                        feats.append(m["features"])
                        plug.append(m["score"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not plug:
        return {"ok": False, "error": "the plugin logged no scored message"}
    Xs = scaling.apply(np.asarray(feats, dtype=np.float32), lo, hi)
    ours = model.scores(model.TfliteScorer(flatbuffer).reconstruct(Xs), Xs)
    plug = np.asarray(plug, dtype=np.float64)
    rel = np.abs(plug - ours) / np.maximum(np.abs(ours), 1e-6)
    return {"ok": bool(rel.max() < 1e-3), "backend": backend, "capture": pcap.name,
            "messages": len(plug), "max_abs_diff": float(np.abs(plug - ours).max()),
            "max_rel_diff": float(rel.max())}
