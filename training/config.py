"""Paths and fixed settings shared by the pipeline's steps.

Kept in one place so that cache keys, default locations and the split fractions cannot drift
between the step that writes something and the step that reads it.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def cache_root() -> Path:
    """$MQTT_ML_CACHE, else $XDG_CACHE_HOME/mqtt-ml, else ~/.cache/mqtt-ml (as scripts/env.sh)."""
    if os.environ.get("MQTT_ML_CACHE"):
        return Path(os.environ["MQTT_ML_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mqtt-ml"


def default_mqttset_dir() -> Path:
    """MQTTset is read in place (its licence forbids copying it into the repository)."""
    if os.environ.get("MQTTSET_DIR"):
        return Path(os.environ["MQTTSET_DIR"])
    return REPO.parent / "shared" / "datasets" / "mqttset-reduced"


DEFAULT_PLUGIN = REPO / "target" / "release" / "libmqtt_ml.so"
DEFAULT_CLI = REPO / "target" / "release" / "mqtt-ml"
DEFAULT_OUT = REPO / "models"
MODEL_NAME = "mqtt-ml"

DEFAULT_SEED = 1
# The class names used everywhere in the pipeline and the report. MQTTset calls Malaria DoS
# "malariados"; the project's generator calls it "malaria".
BENIGN = "benign"
ATTACKS = ["bruteforce", "flood", "malaria", "malformed", "slowite"]
CLASSES = [BENIGN] + ATTACKS
CLASS_ALIASES = {"malariados": "malaria"}

# MQTTset's benign capture has only 7 long-lived connections: they are cut into segments of this
# many seconds (by message time since the connection's first message) and the segments are split.
MQTTSET_SEGMENT_SECONDS = 120.0
# Benign autoencoder split fractions (train, validation; the rest is test).
MQTTSET_BENIGN_SPLIT = (0.6, 0.2)
# Generated benign run "a": train / validation by connection (run "b" is the test data).
GENERATED_VAL_FRACTION = 0.2
# Supervised baseline: share of attack connections used for training.
RF_TRAIN_FRACTION = 0.7
