"""Supervised baseline: a RandomForest on the same features and splits.

It shows how much of the task is separable at all with these features when attacks are known in
advance, which the autoencoder (trained on benign traffic only) does not get to see. Trees need no
scaling, so it reads the raw plugin features.
"""

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from . import config
from .corpus import TEST, TRAIN


def run(corpus, dataset: str, seed: int, n_estimators: int) -> dict:
    tr = corpus.mask(dataset=dataset, rf=TRAIN)
    te = corpus.mask(dataset=dataset, rf=TEST)
    if not tr.any() or not te.any():
        return {}
    rf = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=2,
                                class_weight="balanced")
    rf.fit(corpus.X[tr], corpus.cls[tr])
    pred = rf.predict(corpus.X[te])
    y = corpus.cls[te]
    labels = sorted(set(np.unique(y)) | set(np.unique(pred)))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    return {
        "n_train": int(tr.sum()), "n_test": int(te.sum()), "n_estimators": n_estimators,
        "accuracy": float(accuracy_score(y, pred)),
        "per_class": {config.CLASSES[k]: {"precision": float(p[i]), "recall": float(r[i]),
                                          "f1": float(f[i]), "support": int(s[i])}
                      for i, k in enumerate(labels)},
        "labels": [config.CLASSES[k] for k in labels],
        "confusion": confusion_matrix(y, pred, labels=labels).tolist(),
        "train_per_class": {config.CLASSES[k]: int((corpus.cls[tr] == k).sum())
                            for k in np.unique(corpus.cls[tr])},
    }
