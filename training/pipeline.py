"""One command from captures to a shipped model and its report.

  captures  list MQTTset (read in place) and generate (or reuse) the project's dataset
  features  the plugin inside Suricata, one run per capture (cached), then labels and splits
  train     min-max scaling fitted on benign training vectors, the autoencoder on benign only
  evaluate  TFLite export in memory, thresholds from benign validation error, held-out metrics,
            the RandomForest baseline, and the plugin's own scores checked against Python's
  export    models/mqtt-ml.tflite and models/mqtt-ml.json (written only when all went well)
  report    models/REPORT.md and models/plots/*.png

Usage: training/run.sh [--quick] [--seed N] [--out DIR] [--datasets mqttset,generated] ...
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from . import config


def log(msg: str) -> None:
    print(f"[train] {msg}", flush=True)


class Steps:
    """Times each step and prints its duration, then the total."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.durations = {}

    def run(self, name, fn, *a, **kw):
        log(f"step {name} ...")
        t = time.monotonic()
        out = fn(*a, **kw)
        self.durations[name] = round(time.monotonic() - t, 1)
        log(f"step {name}: {self.durations[name]:.1f} s")
        return out

    def total(self):
        return round(time.monotonic() - self.t0, 1)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: small generated data, few epochs, output to the cache")
    ap.add_argument("--seed", type=int, default=config.DEFAULT_SEED)
    ap.add_argument("--out", type=Path, help="model and report directory (default models/, "
                    "or $MQTT_ML_CACHE/quick-models with --quick)")
    ap.add_argument("--datasets", default="mqttset,generated,corpus",
                    help="comma-separated: mqttset, generated, corpus (default all; corpus is "
                         "used when scripts/gen-corpus.py output exists in --corpus-dir)")
    ap.add_argument("--corpus-dir", type=Path, action="append",
                    help="multi-environment corpus (default $MQTT_ML_CACHE/corpus); repeat it "
                         "to add runs: only run \"a\" trains, later runs are evaluated only")
    ap.add_argument("--loeo-epochs", type=int, default=100,
                    help="epoch budget of each leave-one-environment-out fold (default 100)")
    ap.add_argument("--no-loeo", action="store_true",
                    help="skip the leave-one-environment-out evaluation")
    ap.add_argument("--mqttset", type=Path, default=config.default_mqttset_dir(),
                    help="MQTTset reduced captures (read in place; default $MQTTSET_DIR)")
    ap.add_argument("--dataset-dir", type=Path,
                    help="generated dataset directory (default $MQTT_ML_CACHE/dataset[-small])")
    ap.add_argument("--plugin", type=Path, default=config.DEFAULT_PLUGIN,
                    help="the plugin .so (default target/release/libmqtt_ml.so)")
    ap.add_argument("--cli", type=Path, default=config.DEFAULT_CLI,
                    help="the mqtt-ml binary printing the schema (default target/release/mqtt-ml)")
    ap.add_argument("--epochs", type=int, help="epoch budget (default 300, --quick 3)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--threshold", choices=["p95", "p99", "p999"], default="p999",
                    help="the threshold the plugin uses by default (default p999)")
    a = ap.parse_args(argv)
    a.datasets = [d.strip() for d in a.datasets.split(",") if d.strip()]
    bad = set(a.datasets) - {"mqttset", "generated", "corpus"}
    if bad or not a.datasets:
        ap.error(f"--datasets: unknown {sorted(bad)}")
    a.scale = "small" if a.quick else "default"
    a.epochs = a.epochs or (3 if a.quick else 300)
    a.out = a.out or (config.cache_root() / "quick-models" if a.quick else config.DEFAULT_OUT)
    a.corpus_dir = a.corpus_dir or [config.cache_root() / "corpus"]
    a.dataset_dir = a.dataset_dir or config.cache_root() / (
        "dataset-small" if a.quick else "dataset")
    return a


def load_schema(cli: Path) -> dict:
    """The feature schema exactly as the plugin's CLI prints it (never restated in Python)."""
    p = subprocess.run([str(cli), "schema"], capture_output=True, text=True, check=True)
    schema = json.loads(p.stdout)
    if len(schema["features"]) != schema["width"] or len(schema["transforms"]) != schema["width"]:
        raise RuntimeError("mqtt-ml schema: features/transforms do not match width")
    return schema


def step_captures(a):
    from . import datasets
    caps, manifest = [], None
    if "mqttset" in a.datasets:
        if a.mqttset.is_dir():
            caps += datasets.mqttset_captures(a.mqttset)
            log(f"MQTTset: {sum(c.dataset == 'mqttset' for c in caps)} captures in {a.mqttset}")
        else:
            log(f"MQTTset not found at {a.mqttset} (set MQTTSET_DIR or --mqttset): skipped")
    if "generated" in a.datasets:
        manifest = datasets.ensure_generated(a.dataset_dir, a.seed, a.scale, log)
        caps += datasets.generated_captures(a.dataset_dir, manifest)
    if "corpus" in a.datasets and not a.quick:
        cc = [cp for d in a.corpus_dir for cp in datasets.corpus_captures(d)]
        envs = sorted({cp.environment for cp in cc})
        runs = sorted({cp.run for cp in cc})
        log(f"corpus: {len(cc)} captures in {len(envs)} environments ({', '.join(envs)}), "
            f"runs {', '.join(runs)}" if cc else
            f"corpus: none in {', '.join(map(str, a.corpus_dir))} (scripts/gen-corpus.py "
            "makes it)")
        caps += cc
    if not caps:
        raise SystemExit("no captures to train on")
    return caps, manifest


def step_features(a, schema, caps):
    from . import corpus, features
    ex = features.Extractor(a.plugin, schema["width"], config.cache_root() / "features")
    c = corpus.build(caps, ex, a.seed, log)
    log(f"{len(c.cls)} messages, {len(c.units)} units; suricata runs: {ex.misses} new, "
        f"{ex.hits} cached")
    return c, ex.plugin_sha


def step_train(a, c):
    from .corpus import TRAIN, VAL
    t = fit(a, c, c.ae == TRAIN, c.ae == VAL)
    log(f"benign train {t['n_train']} / validation {t['n_val']} messages")
    return t


def fit(a, c, tr, va, epochs=None):
    """Scaling, autoencoder and thresholds from the benign rows `tr` (train) and `va`
    (validation). Thresholds are percentiles of the validation scores of the exported TFLite
    model, with every environment weighted equally (see balanced())."""
    import numpy as np
    from . import model, scaling
    if not tr.any() or not va.any():
        raise SystemExit("no benign training or validation data")
    lo, hi = scaling.fit(c.X[tr])
    Xs = scaling.apply(c.X, lo, hi)
    itr, iva = balanced(c, tr), balanced(c, va)
    m, info, hist = model.train(Xs[itr], Xs[iva], a.seed, epochs or a.epochs, a.batch_size, log)
    info["balanced_rows"] = {"train": int(len(itr)), "validation": int(len(iva))}
    flat = model.to_tflite(m)
    vs = model.scores(model.TfliteScorer(flat).reconstruct(Xs[iva]), Xs[iva]).astype(np.float64)
    thr = {k: float(np.float32(np.percentile(vs, q)))
           for k, q in (("p95", 95.0), ("p99", 99.0), ("p999", 99.9))}
    return {"lo": lo, "hi": hi, "Xs": Xs, "model": m, "info": info, "history": hist,
            "n_train": int(tr.sum()), "n_val": int(va.sum()), "val_rows": iva,
            "flatbuffer": flat, "thresholds": thr,
            "keras_val": np.asarray(m.predict(Xs[va], verbose=0, batch_size=4096))}


def balanced(c, mask):
    """Row indices of `mask`, deterministically oversampled so rare benign data is not ignored.

    Two imbalances make an autoencoder treat legitimate benign traffic as anomalous:
    - between sources: MQTTset's benign capture has about 30 times more messages than the
      generated benign run; unbalanced, the model fits MQTTset's seven sensors and scores the
      generated home's clients as outliers. Each dataset is repeated up to the largest one.
    - between message types: PUBLISH is over 95% of MQTTset's benign messages and a CONNECT
      0.04%, so the loss barely sees CONNECT/CONNACK/SUBSCRIBE and every benign (re)connection
      scores high. Each (message type, direction) can be repeated up to MIN_TYPE_SHARE of its
      dataset. This is OFF (0): with 0.02 the benign CONNECT false alarms vanished, but the model
      then also reconstructed SlowITe's CONNECTs well and its per-connection recall on MQTTset
      fell from 1.0 to 0; a rare benign message type costing a few false alarms is the smaller
      price.
    Repeating whole rows gives these groups weight in the loss, in early stopping and in the
    threshold percentiles alike.
    """
    import numpy as np
    out = []
    sets = [np.flatnonzero(mask & (c.dataset == ds)) for ds in np.unique(c.dataset[mask])]
    sets = [g for g in sets if len(g)]
    top = max(len(g) for g in sets)
    for g in sets:
        parts = []
        for t in np.unique(c.msgtype[g]):
            sub = g[c.msgtype[g] == t]
            parts.append(np.tile(sub, max(1, int(round(MIN_TYPE_SHARE * len(g) / len(sub))))))
        g = np.concatenate(parts)
        out.append(np.tile(g, max(1, int(round(top / len(g))))))
    return np.concatenate(out)


MIN_TYPE_SHARE = 0.0


def step_evaluate(a, schema, c, t, caps):
    import numpy as np
    from . import baseline, evaluate, model, verify
    from .corpus import TEST, VAL
    flat = t["flatbuffer"]
    scorer = model.TfliteScorer(flat)
    recon = scorer.reconstruct(t["Xs"])
    score = model.scores(recon, t["Xs"])
    va = c.ae == VAL
    keras_diff = float(np.abs(recon[va] - t["keras_val"]).max())
    thr = t["thresholds"]  # each environment weighted equally
    res = {"thresholds": thr, "tflite_vs_keras_max_abs_diff": keras_diff, "datasets": {},
           "val_per_dataset": {}}
    err2 = (recon - t["Xs"]) ** 2
    for ds in ("mqttset", "generated"):
        m = c.mask(dataset=ds, ae=TEST)
        if not m.any():
            continue
        res["datasets"][ds] = {
            name: evaluate.evaluate(score[m], c.cls[m], c.unit[m], c.units, v)
            for name, v in thr.items()}
        res["val_per_dataset"][ds] = {
            k: int((score[c.mask(dataset=ds, ae=VAL)] > v).sum()) for k, v in thr.items()}
        res["val_per_dataset"][ds]["messages"] = int(c.mask(dataset=ds, ae=VAL).sum())
        res.setdefault("feature_errors", {})[ds] = evaluate.feature_errors(err2[m], c.cls[m])
    trees = 20 if a.quick else 100
    res["baseline"] = {ds: baseline.run(c, ds, a.seed, trees) for ds in res["datasets"]}
    res["score"], res["flatbuffer"] = score, flat
    # Check the plugin against Python on the smallest evaluation capture.
    small = min((cp for cp in caps if cp.role == "use"), key=lambda cp: cp.path.stat().st_size)
    tmp = a.out / ".verify.tflite"
    a.out.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(flat)
    tmp.with_suffix(".json").write_text(json.dumps(metadata(a, schema, t, thr, {}, {}, {})))
    try:
        # Both backends: training and deployment must agree whichever runtime scores.
        checks = [verify.check(a.plugin, small.path, tmp, t["lo"], t["hi"], flat, backend)
                  for backend in ("native", "tflite")]
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".json").unlink(missing_ok=True)
    res["plugin_check"] = {"ok": all(c.get("ok") for c in checks), "backends": checks}
    for pc in checks:
        log(f"plugin check ({pc.get('backend', '?')}): " + (
            f"{pc['messages']} messages, max relative difference {pc['max_rel_diff']:.2g}"
            if pc.get("messages") else pc.get("error", "failed")))
    return res


def step_loeo(a, schema, c, caps):
    from . import loeo
    return loeo.run(a, c, caps,
                    fit=lambda tr, va: fit(a, c, tr, va, a.loeo_epochs),
                    export_metadata=lambda t: metadata(a, schema, t, t["thresholds"], {}, {}, {}),
                    log=log)


def versions() -> dict:
    import keras
    import matplotlib
    import numpy
    import sklearn
    import tensorflow
    return {"python": platform.python_version(), "tensorflow": tensorflow.__version__,
            "keras": keras.__version__, "numpy": numpy.__version__,
            "scikit-learn": sklearn.__version__, "matplotlib": matplotlib.__version__}


def metadata(a, schema, t, thr, training, metrics, extra) -> dict:
    return {"format": "mqtt-ml-model", "format_version": 1, "schema": schema,
            "scaling": {"min": [float(v) for v in t["lo"]], "max": [float(v) for v in t["hi"]]},
            "thresholds": {**thr, "default": a.threshold}, "training": training,
            "metrics": metrics, **extra}


def summary_metrics(a, res) -> dict:
    """The evaluation summary stored in the model's metadata (at the default threshold)."""
    out = {"threshold_used": a.threshold}
    for ds, by_thr in res["datasets"].items():
        r = by_thr[a.threshold]
        out[ds] = {lvl: {k: {m: v[m] for m in ("recall", "precision", "f1", "benign_fpr",
                                                "roc_auc", "pr_auc", "tp", "fn", "fp", "tn")}
                         for k, v in r[lvl].items()} for lvl in ("messages", "connections")}
        out[ds]["benign_units"] = r["benign_units"]
    out["baseline_accuracy"] = {ds: b.get("accuracy") for ds, b in res["baseline"].items()}
    out["plugin_check"] = res["plugin_check"]
    out["tflite_vs_keras_max_abs_diff"] = res["tflite_vs_keras_max_abs_diff"]
    return out


def step_export(a, schema, c, t, res, caps, manifest, plugin_sha, durations):
    import numpy as np
    from .corpus import TRAIN, VAL
    training = {
        "seed": a.seed, "quick": a.quick,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "versions": versions(), "plugin_sha256": plugin_sha,
        "inputs": c.captures,
        "generated_dataset": ({"scale": manifest["scale"], "seed": manifest["seed"],
                               "generator": manifest.get("generator")} if manifest else None),
        "benign_train_messages": t["n_train"], "benign_validation_messages": t["n_val"],
        "benign_train_units": sum(1 for u in c.units if u["ae"] == TRAIN),
        "benign_validation_units": sum(1 for u in c.units if u["ae"] == VAL),
        "per_dataset_train_messages": {ds: int(c.mask(dataset=ds, ae=TRAIN).sum())
                                       for ds in np.unique(c.dataset)},
        "split": {"mqttset_benign": f"{config.MQTTSET_SEGMENT_SECONDS:g} s segments of each "
                                    f"connection, 60/20/20 by seeded hash",
                  "generated": "run a benign connections 80/20 train/validation by seeded "
                               "hash; run b is test",
                  "attacks": "test only"},
        **t["info"], "step_seconds": durations,
    }
    meta = metadata(a, schema, t, res["thresholds"], training, summary_metrics(a, res), {})
    a.out.mkdir(parents=True, exist_ok=True)
    model_path = a.out / f"{config.MODEL_NAME}.tflite"
    tmp = model_path.with_suffix(".tflite.tmp")
    tmp.write_bytes(res["flatbuffer"])
    tmp.replace(model_path)
    jpath = model_path.with_suffix(".json")
    jtmp = jpath.with_suffix(".json.tmp")
    jtmp.write_text(json.dumps(meta, indent=1) + "\n")
    jtmp.replace(jpath)
    log(f"wrote {model_path} ({len(res['flatbuffer'])} bytes) and {jpath.name}")
    return meta


def main(argv=None) -> int:
    a = parse_args(argv)
    for p in (a.plugin, a.cli):
        if not p.exists():
            raise SystemExit(f"{p} not found: build the plugin first (scripts/build-plugin.sh)")
    steps = Steps()
    schema = load_schema(a.cli)
    caps, manifest = steps.run("captures", step_captures, a)
    c, plugin_sha = steps.run("features", step_features, a, schema, caps)
    t = steps.run("train", step_train, a, c)
    res = steps.run("evaluate", step_evaluate, a, schema, c, t, caps)
    if not a.no_loeo and not a.quick:
        res["loeo"] = steps.run("loeo", step_loeo, a, schema, c, caps)
    meta = steps.run("export", step_export, a, schema, c, t, res, caps, manifest, plugin_sha,
                     steps.durations)
    from . import report
    steps.run("report", report.write, a, schema, c, t, res, meta, steps.durations)
    log("durations: " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.durations.items())
        + f"; total {steps.total():.1f} s")
    if not res["plugin_check"]["ok"]:
        log("FAILED: the plugin does not score like this pipeline (see the report's deployment "
            "check); the model was written but must not ship")
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
