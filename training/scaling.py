"""Min-max scaling, an exact mirror of the plugin's `src/features/scaling.rs`.

Training and evaluation must see the numbers the plugin will compute, so this follows the Rust
code step by step in float32: (x - min) / (max - min) clipped to [LOW, HIGH] = [-1, 2] (training
data spans [0, 1]; the wider clip keeps values far beyond anything benign visible); a feature whose
range is at most f32 epsilon maps to 0 at its value, HIGH above and LOW below; NaN becomes HIGH.
"""

import numpy as np

F32_EPS = np.float32(np.finfo(np.float32).eps)  # 1.1920929e-07, Rust's f32::EPSILON
LOW, HIGH = np.float32(-1.0), np.float32(2.0)  # src/features/scaling.rs LOW / HIGH


def fit(X: np.ndarray):
    """min and max per feature of the benign training vectors (float32, as the plugin stores)."""
    X = np.asarray(X, dtype=np.float32)
    return X.min(axis=0), X.max(axis=0)


def apply(X: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    lo = np.asarray(lo, dtype=np.float32)
    hi = np.asarray(hi, dtype=np.float32)
    rng = hi - lo
    varies = rng > F32_EPS
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.clip((X - lo) / np.where(varies, rng, np.float32(1)), LOW, HIGH)
    const = np.where(X > lo, HIGH, np.where(X < lo, LOW, np.float32(0))).astype(np.float32)
    out = np.where(varies, scaled, const).astype(np.float32)
    out[np.isnan(out) | (np.isnan(X) & ~varies)] = HIGH
    return out
