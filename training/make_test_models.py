#!/usr/bin/env python3
"""Builds the small float32 TensorFlow Lite models the Rust model tests load (tests/models/).

Each model is fully determined by this script and its seed, so the tests can predict what it does:

  ae<W>.tflite        the deployed autoencoder's architecture (W -> 16 -> 8 -> 16 -> W, ReLU,
                      BatchNorm, Dropout 0.2, sigmoid output), trained for a few epochs on seeded
                      uniform data so that BatchNorm's moving statistics are not the identity.
                      ae<W>.expected.json keeps Keras' own outputs on fixed inputs, so the Rust
                      backends can be checked against Keras without TensorFlow installed.
  zero<W>.tflite      Dense(W, sigmoid) with all-zero weights and bias: always outputs 0.5, so its
                      score is mean((x - 0.5)^2) in closed form.
  zero20.tflite       the same at width 20: a model that does not fit the 28-feature schema.
  identity<W>.tflite  Dense(W, linear) with an identity kernel: reconstructs its input exactly.
  int8in<W>.tflite    the identity model with full-integer quantization (int8 input and output):
                      a model the loader must reject because its input is not float32.
  softmax<W>.tflite   Dense(W, softmax): an operator (SOFTMAX) the native backend does not run.
  ops<W>.tflite       constant MUL and ADD on the input, then Dense tanh, Dense + ReLU6, Dense
                      sigmoid: the elementwise operators the native backend also runs, with
                      ops<W>.expected.json like the autoencoder's.

Run: $MQTT_ML_CACHE/venv/bin/python training/make_test_models.py [--width 28] [--out tests/models]
(the venv: python3 -m venv $MQTT_ML_CACHE/venv && $MQTT_ML_CACHE/venv/bin/pip install -r
training/requirements.txt).
"""

import argparse
import contextlib
import io
import json
import os
import re
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Reproducible float results on CPU: oneDNN may reorder reductions between runs and machines.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

# tf.lite.Interpreter's deprecation notice and the converter's calibration notes are not news here.
warnings.filterwarnings("ignore", category=UserWarning)

REPO = Path(__file__).resolve().parent.parent
# The architecture comes from the training code, so test models are shaped like shipped ones.
sys.path.insert(0, str(REPO))
from training.model import build  # noqa: E402


def to_tflite(model: keras.Model, int8_io_samples=None) -> bytes:
    """Float32 TFLite flatbuffer of `model` (full int8 when int8_io_samples is given)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8_io_samples is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([s[None, :]] for s in int8_io_samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    # The converter prints the SavedModel signature it goes through; keep this script's output short.
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def op_names(flatbuffer: bytes) -> list:
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    return [op["op_name"] for op in interpreter._get_ops_details()]


def autoencoder(width: int, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = build(width)
    # Seeded uniform data in [0, 1], like the scaled feature schema. It keeps every bottleneck unit
    # alive for inputs anywhere in the unit cube (narrow, correlated data leaves most of the ReLUs dead,
    # and then most test vectors get the same reconstruction, which would test little).
    data = np.random.default_rng(seed).random((4096, width), dtype=np.float32)
    model.fit(data, data, epochs=5, batch_size=64, verbose=0)
    return model


def dense_model(width: int, kernel: np.ndarray, activation: str) -> keras.Model:
    model = keras.Sequential([keras.Input(shape=(width,), dtype="float32"), layers.Dense(width, activation=activation)])
    model.layers[-1].set_weights([kernel.astype(np.float32), np.zeros(width, dtype=np.float32)])
    return model


def elementwise_ops(width: int, seed: int) -> keras.Model:
    """Constant scaling before the first Dense (what an unfolded BatchNorm or a normalization layer
    leaves: MUL and ADD, since no earlier op can absorb them), then tanh, ReLU6 and a sigmoid."""
    keras.utils.set_random_seed(seed + 3)
    rng = np.random.default_rng(seed + 3)
    scale = (0.5 + rng.random(width)).astype(np.float32)
    shift = (rng.random(width) - 0.5).astype(np.float32)
    x = keras.Input(shape=(width,), dtype="float32")
    h = keras.ops.add(keras.ops.multiply(x, scale), shift)
    h = layers.Dense(16, activation="tanh")(h)
    h = layers.ReLU(max_value=6.0)(layers.Dense(16)(h))
    y = layers.Dense(width, activation="sigmoid")(h)
    return keras.Model(x, y)


def export_with_expected(model: keras.Model, name: str, inputs: np.ndarray, out: Path, seed: int) -> None:
    flatbuffer = to_tflite(model)
    write(out / f"{name}.tflite", flatbuffer, op_names(flatbuffer))
    keras_out = model.predict(inputs, verbose=0)
    # The same inputs through TensorFlow's own TFLite interpreter, for the record.
    interp = tf.lite.Interpreter(model_content=flatbuffer)
    interp.allocate_tensors()
    tfl_out = []
    for row in inputs:
        interp.set_tensor(interp.get_input_details()[0]["index"], row[None, :])
        interp.invoke()
        tfl_out.append(interp.get_tensor(interp.get_output_details()[0]["index"])[0])
    diff = float(np.max(np.abs(np.asarray(tfl_out) - keras_out)))
    expected = {
        "model": f"{name}.tflite",
        "made_by": "training/make_test_models.py",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "seed": seed,
        "width": inputs.shape[1],
        "inputs": inputs.tolist(),
        "keras_outputs": keras_out.astype(np.float32).tolist(),
        "max_abs_diff_tflite_python_vs_keras": diff,
    }
    # One vector per line: readable, and diffs stay small when the model is regenerated.
    text = json.dumps(expected, indent=1)
    text = re.sub(r"\[\s+([-0-9.e,\s]+?)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    (out / f"{name}.expected.json").write_text(text + "\n")
    print(f"{name}.expected.json: {len(inputs)} vectors; TF's own TFLite vs Keras max |diff| {diff:.3g}")


def fixed_inputs(width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    rows = [np.zeros(width), np.ones(width), np.full(width, 0.5), np.linspace(0.0, 1.0, width)]
    rows += list(rng.random((6, width)))
    return np.asarray(rows, dtype=np.float32)


def write(path: Path, data: bytes, summary: list) -> None:
    path.write_bytes(data)
    print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {len(data)} bytes, ops {summary}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=28, help="feature width W (default 28)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "models")
    args = parser.parse_args()
    w, out = args.width, args.out
    out.mkdir(parents=True, exist_ok=True)

    inputs = fixed_inputs(w, args.seed)
    ae = autoencoder(w, args.seed)
    export_with_expected(ae, f"ae{w}", inputs, out, args.seed)
    export_with_expected(elementwise_ops(w, args.seed), f"ops{w}", inputs, out, args.seed)

    for width in sorted({w, 20}):
        zero = to_tflite(dense_model(width, np.zeros((width, width)), "sigmoid"))
        write(out / f"zero{width}.tflite", zero, op_names(zero))
    identity_model = dense_model(w, np.eye(w), "linear")
    identity = to_tflite(identity_model)
    write(out / f"identity{w}.tflite", identity, op_names(identity))
    samples = np.random.default_rng(args.seed + 2).random((64, w), dtype=np.float32)
    int8 = to_tflite(identity_model, int8_io_samples=samples)
    write(out / f"int8in{w}.tflite", int8, op_names(int8))
    softmax = to_tflite(dense_model(w, np.eye(w), "softmax"))
    write(out / f"softmax{w}.tflite", softmax, op_names(softmax))
    return 0


if __name__ == "__main__":
    sys.exit(main())
