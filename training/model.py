"""The autoencoder: build, train (benign only), export to float32 TFLite, score.

The architecture is fixed by the project (width -> 16 -> 8 -> 16 -> width with BatchNorm and
Dropout 0.2, sigmoid output for [0, 1]-scaled inputs); what the pipeline chooses is only the data,
the seed, the epoch budget and the batch size. Scores in evaluation come from the exported TFLite
flatbuffer itself, the artifact the plugin runs, not from the Keras model.
"""

import contextlib
import io
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN may reorder float reductions between runs; off for reproducible training.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402


def build(width: int) -> keras.Model:
    model = keras.Sequential([
        keras.Input(shape=(width,), dtype="float32"),
        layers.Dense(16, activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.2),
        layers.Dense(8, activation="relu"),
        layers.Dense(16, activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.2),
        layers.Dense(width, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
    return model


def train(Xtr, Xval, seed: int, epochs: int, batch_size: int, log):
    """Fits on benign training vectors, early-stopping on benign validation loss."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model = build(Xtr.shape[1])
    cbs = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=10,
                                      restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=5),
    ]
    t0 = time.monotonic()
    hist = model.fit(Xtr, Xtr, validation_data=(Xval, Xval), epochs=epochs,
                     batch_size=batch_size, shuffle=True, callbacks=cbs, verbose=0)
    h = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    best = int(np.argmin(h["val_loss"]))
    info = {"epochs_run": len(h["loss"]), "epochs_max": epochs, "best_epoch": best + 1,
            "batch_size": batch_size, "train_seconds": round(time.monotonic() - t0, 1),
            "final_loss": h["loss"][-1], "best_val_loss": h["val_loss"][best],
            "optimizer": "adam", "loss": "mse",
            "callbacks": "EarlyStopping(val_loss, patience 10, restore best), "
                         "ReduceLROnPlateau(val_loss, factor 0.5, patience 5)"}
    log(f"  {info['epochs_run']} epochs (best {info['best_epoch']}), val loss "
        f"{info['best_val_loss']:.3g}, {info['train_seconds']} s")
    return model, info, h


def to_tflite(model) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return converter.convert()


class TfliteScorer:
    """Reconstructions from a TFLite flatbuffer, in batches (the graph is all fully-connected)."""

    def __init__(self, flatbuffer: bytes, batch: int = 8192):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.interp = tf.lite.Interpreter(model_content=flatbuffer)
        self.inp = self.interp.get_input_details()[0]["index"]
        self.out = self.interp.get_output_details()[0]["index"]
        self.batch = batch
        self.shape = None

    def reconstruct(self, Xs: np.ndarray) -> np.ndarray:
        Xs = np.ascontiguousarray(Xs, dtype=np.float32)
        outs = []
        for i in range(0, len(Xs), self.batch):
            chunk = Xs[i:i + self.batch]
            if self.shape != chunk.shape:
                self.interp.resize_tensor_input(self.inp, chunk.shape)
                self.interp.allocate_tensors()
                self.shape = chunk.shape
            self.interp.set_tensor(self.inp, chunk)
            self.interp.invoke()
            outs.append(self.interp.get_tensor(self.out).copy())
        return np.concatenate(outs) if outs else np.zeros_like(Xs)


def scores(recon: np.ndarray, Xs: np.ndarray) -> np.ndarray:
    """The plugin's score: mean squared error over the features, in float32."""
    d = (recon.astype(np.float32) - Xs.astype(np.float32))
    return np.mean(d * d, axis=1, dtype=np.float32)
