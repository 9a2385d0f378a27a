"""Detection metrics of the autoencoder on held-out data, per message and per connection.

A message is flagged when its score exceeds the threshold (as the plugin does). A connection (or,
for MQTTset's benign capture, a segment: see corpus.py) is flagged when any of its messages is,
so its score is the maximum of its messages' scores. Each attack class is measured against all
held-out benign data of the same dataset; "all attacks" pools the classes.
"""

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from . import config


def binary(y: np.ndarray, s: np.ndarray, thr: float) -> dict:
    """y: True for attack. Counts and rates at `thr`, plus threshold-free ROC/PR AUC."""
    pred = s > thr
    tp = int((pred & y).sum()); fn = int((~pred & y).sum())
    fp = int((pred & ~y).sum()); tn = int((~pred & ~y).sum())
    rec = tp / (tp + fn) if tp + fn else float("nan")
    prec = tp / (tp + fp) if tp + fp else float("nan")
    f1 = 2 * prec * rec / (prec + rec) if tp else 0.0
    both = y.any() and (~y).any()
    return {"n_attack": tp + fn, "n_benign": fp + tn, "tp": tp, "fn": fn, "fp": fp, "tn": tn,
            "recall": rec, "precision": prec, "f1": f1,
            "benign_fpr": fp / (fp + tn) if fp + tn else float("nan"),
            "roc_auc": float(roc_auc_score(y, s)) if both else float("nan"),
            "pr_auc": float(average_precision_score(y, s)) if both else float("nan")}


def unit_scores(score, unit, cls):
    """Per-unit maximum score and class (units are connections or benign segments)."""
    ids, inv = np.unique(unit, return_inverse=True)
    mx = np.full(len(ids), -np.inf, dtype=np.float64)
    np.maximum.at(mx, inv, score)
    ucls = np.zeros(len(ids), dtype=np.int64)
    ucls[inv] = cls
    return ids, mx, ucls


def per_class(score, cls, thr, classes_present) -> dict:
    """{class or "all": metrics} for one level (messages or units)."""
    benign = cls == 0
    out = {}
    for c in classes_present:
        k = config.CLASSES.index(c)
        sel = benign | (cls == k)
        out[c] = binary(cls[sel] == k, score[sel], thr)
    out["all"] = binary(~benign, score, thr)
    return out


def evaluate(score, cls, unit, units, thr) -> dict:
    """Metrics of one dataset's test data at threshold `thr`."""
    present = [c for c in config.ATTACKS if (cls == config.CLASSES.index(c)).any()]
    ids, uscore, ucls = unit_scores(score, unit, cls)
    background = np.array([units[i]["background"] for i in ids], dtype=bool)
    res = {"threshold": float(thr), "classes": present,
           "messages": per_class(score, cls, thr, present),
           "connections": per_class(uscore, ucls, thr, present)}
    # Benign false alarms split by origin: the benign capture itself vs benign clients that ran
    # next to an attack (those share the attacker's address on loopback captures).
    fa = {}
    for name, m in (("benign capture", (ucls == 0) & ~background),
                    ("background in attack captures", (ucls == 0) & background)):
        if m.any():
            fa[name] = {"units": int(m.sum()), "false_alarms": int((uscore[m] > thr).sum())}
    res["benign_units"] = fa
    bm = cls == 0
    bg_msg = np.array([units[u]["background"] for u in unit], dtype=bool)
    res["benign_messages"] = {
        name: {"messages": int(m.sum()), "above": int((score[m] > thr).sum())}
        for name, m in (("benign capture", bm & ~bg_msg),
                        ("background in attack captures", bm & bg_msg)) if m.any()}
    return res


def roc_points(score, cls, k):
    sel = (cls == 0) | (cls == k)
    fpr, tpr, _ = roc_curve(cls[sel] == k, score[sel])
    return fpr, tpr


def feature_errors(err2: np.ndarray, cls: np.ndarray) -> dict:
    """Mean squared reconstruction error per feature, per class present."""
    return {c: err2[cls == i].mean(axis=0) for i, c in enumerate(config.CLASSES)
            if (cls == i).any()}
