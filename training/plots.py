"""The report's figures (PNG, matplotlib's non-interactive backend)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from . import config  # noqa: E402
from .evaluate import roc_points, unit_scores  # noqa: E402

COLORS = {"benign": "#2b8a3e", "bruteforce": "#e8590c", "flood": "#1c7ed6", "malaria": "#ae3ec9",
          "malformed": "#c92a2a", "slowite": "#f08c00"}
THR_STYLES = {"p95": ":", "p99": "--", "p999": "-"}


def roc(path, title, score, cls, unit):
    """ROC per attack class, per message (solid) and per connection (dashed); log FPR axis."""
    fig, ax = plt.subplots(figsize=(7, 5))
    _, us, uc = unit_scores(score, unit, cls)
    for c in config.ATTACKS:
        k = config.CLASSES.index(c)
        if not (cls == k).any():
            continue
        f, t = roc_points(score, cls, k)
        ax.plot(np.maximum(f, 1e-5), t, color=COLORS[c], label=f"{c} (messages)")
        f, t = roc_points(us, uc, k)
        ax.plot(np.maximum(f, 1e-5), t, color=COLORS[c], ls="--", alpha=0.7,
                label=f"{c} (connections)")
    ax.set_xscale("log")
    ax.set_xlim(1e-5, 1.0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("benign false-positive rate (log; 0 drawn at 1e-5)")
    ax.set_ylabel("attack true-positive rate")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def histograms(path, title, score, cls, thresholds):
    """Score distribution per class on a log x axis, the three thresholds marked."""
    present = [c for c in config.CLASSES if (cls == config.CLASSES.index(c)).any()]
    fig, axes = plt.subplots(len(present), 1, figsize=(8, 1.5 + 1.3 * len(present)), sharex=True)
    axes = np.atleast_1d(axes)
    lo = max(float(np.min(score[score > 0])) if (score > 0).any() else 1e-8, 1e-9)
    hi = max(float(score.max()), lo * 10)
    bins = np.logspace(np.log10(lo), np.log10(hi), 80)
    for ax, c in zip(axes, present):
        s = np.maximum(score[cls == config.CLASSES.index(c)], lo)
        ax.hist(s, bins=bins, color=COLORS[c], alpha=0.85)
        ax.set_yscale("log")
        ax.set_ylabel(f"{c}\n(n={len(s)})", fontsize=8)
        for name, v in thresholds.items():
            ax.axvline(v, color="k", ls=THR_STYLES[name], lw=1,
                       label=f"{name} = {v:.3g}" if ax is axes[0] else None)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[0].set_title(title)
    axes[-1].set_xscale("log")
    axes[-1].set_xlabel("score: mean squared reconstruction error (log)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def feature_heatmap(path, title, errs: dict, names):
    """Mean squared reconstruction error per feature (columns) and class (rows), log colour."""
    rows = list(errs)
    m = np.array([errs[r] for r in rows])
    fig, ax = plt.subplots(figsize=(12, 1.2 + 0.45 * len(rows)))
    im = ax.imshow(np.maximum(m, 1e-7), aspect="auto", cmap="magma",
                   norm=LogNorm(vmin=1e-6, vmax=max(1.0, float(m.max()))))
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=70, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="mean squared error (log)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def training_curve(path, history):
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(history["loss"], label="train loss")
    ax.plot(history["val_loss"], label="validation loss")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (scaled features)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
