"""Min-max scaling, an exact mirror of the plugin's `src/features/scaling.rs`.

Training and evaluation must see the numbers the plugin will compute, so this follows the Rust
code step by step in float32: (x - min) / max(max - min, MIN_RANGE) clipped to [LOW, HIGH] =
[-1, 2] (training data spans at most [0, 1]; the wider clip keeps values far beyond anything benign
visible; MIN_RANGE keeps a narrow training range from turning small departures into extreme ones);
NaN becomes HIGH.
"""

import numpy as np

LOW, HIGH = np.float32(-1.0), np.float32(2.0)  # src/features/scaling.rs LOW / HIGH
MIN_RANGE = np.float32(1.0)  # src/features/scaling.rs MIN_RANGE


def fit(X: np.ndarray):
    """min and max per feature of the benign training vectors (float32, as the plugin stores)."""
    X = np.asarray(X, dtype=np.float32)
    return X.min(axis=0), X.max(axis=0)


def apply(X: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    lo = np.asarray(lo, dtype=np.float32)
    hi = np.asarray(hi, dtype=np.float32)
    rng = np.maximum(hi - lo, MIN_RANGE)
    out = np.clip((X - lo) / rng, LOW, HIGH).astype(np.float32)
    out[np.isnan(out)] = HIGH
    return out
