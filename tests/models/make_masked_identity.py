#!/usr/bin/env python3
"""Builds masked<W>_<name>.tflite: a W -> W linear model (W the schema width) that reconstructs every feature exactly
except the named one, which it reconstructs as 0. Its score is therefore exactly
scaled(feature)^2 / W, so an end-to-end test knows which messages must score above a threshold:
with `malformed` masked, malformed messages score 1/W and all others 0.

Run with the project's venv: $MQTT_ML_CACHE/venv/bin/python tests/models/make_masked_identity.py
"""
import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def schema():
    """The feature schema, from the plugin's own command (the single source of truth)."""
    out = subprocess.run([os.path.join(ROOT, "target/release/mqtt-ml"), "schema"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main(name="malformed"):
    s = schema()
    width = s["width"]
    k = s["features"].index(name)
    w = np.eye(width, dtype=np.float32)
    w[k, k] = 0.0
    inp = tf.keras.Input(shape=(width,), dtype=tf.float32)
    layer = tf.keras.layers.Dense(width, use_bias=False, activation=None)
    model = tf.keras.Model(inp, layer(inp))
    layer.set_weights([w])
    tflite = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    path = os.path.join(HERE, f"masked{width}_{name}.tflite")
    with open(path, "wb") as f:
        f.write(tflite)
    print(path)


if __name__ == "__main__":
    main(*sys.argv[1:])
