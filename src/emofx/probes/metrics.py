"""Probe metrics with the house naming ``<split>/<metric>_<output>`` (e.g. ``test/r2_arousal``).

Each task also has one selection score (higher is better) used for the layer sweep and for moving
the registry's ``champion`` alias: mean R² (``r2_mean`` for valence/arousal, ``r2_mean_labels``)
or macro F1 (``f1_macro_quadrant``). Names differ per task so one run or report can hold all.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from emofx.analysis.statistics import song_pearson
from emofx.probes.tasks import N_QUADRANTS, TaskData


def short_target(target: str) -> str:
    return target.removesuffix("_norm")


MEAN_R2 = {"regression": "r2_mean", "labels": "r2_mean_labels", "dynamic": "r2_mean_dynamic"}


def selection_metric(data: TaskData) -> str:
    """Name (without split) of the score that chooses layers and champions."""
    return "f1_macro_quadrant" if data.task == "quadrant" else MEAN_R2[data.task]


def score_split(data: TaskData, split: str, pred: np.ndarray) -> dict[str, float]:
    """Metrics of ``pred`` (``[n_split, k]`` outputs) against the split's targets."""
    y = data.y[data.mask(split)]
    if data.task == "quadrant":
        return classification_metrics(split, y, pred)
    names = [short_target(t) for t in data.outputs]
    if data.task == "dynamic":
        names = [f"{n}_dynamic" for n in names]
    out = regression_metrics(split, names, y, pred, MEAN_R2[data.task])
    if data.task == "dynamic":
        out.update(per_song_metrics(split, names, y, pred, data.groups[data.mask(split)]))
    if data.task == "labels":
        out.update(auroc_metrics(split, names, y, pred))
    return out


def regression_metrics(
    split: str, names: list[str], y_true: np.ndarray, y_pred: np.ndarray, mean_name: str
) -> dict[str, float]:
    """R², Pearson r, RMSE, MAE per output column, and the mean R² (named ``mean_name``)."""
    out = {}
    for j, name in enumerate(names):
        t, p = y_true[:, j], y_pred[:, j]
        out[f"{split}/r2_{name}"] = float(r2_score(t, p))
        out[f"{split}/pearson_{name}"] = pearson(t, p)
        out[f"{split}/rmse_{name}"] = float(np.sqrt(mean_squared_error(t, p)))
        out[f"{split}/mae_{name}"] = float(mean_absolute_error(t, p))
    out[f"{split}/{mean_name}"] = float(np.mean([out[f"{split}/r2_{n}"] for n in names]))
    return out


def per_song_metrics(
    split: str, names: list[str], y_true: np.ndarray, y_pred: np.ndarray, songs: np.ndarray
) -> dict[str, float]:
    """MediaEval "Emotion in Music" dynamic-task scores: Pearson r and RMSE within each song,
    averaged over songs (r over the songs where it is defined: neither curve constant)."""
    order = np.argsort(songs, kind="stable")
    rows = np.split(order, np.unique(songs[order], return_index=True)[1][1:])
    out: dict[str, float] = {}
    for j, name in enumerate(names):
        truth, pred = [y_true[r, j] for r in rows], [y_pred[r, j] for r in rows]
        rs = song_pearson(truth, pred)
        defined = rs[~np.isnan(rs)]
        out[f"{split}/song_pearson_{name}"] = float(defined.mean()) if len(defined) else np.nan
        out[f"{split}/song_rmse_{name}"] = float(
            np.mean([np.sqrt(mean_squared_error(t, p)) for t, p in zip(truth, pred, strict=True)])
        )
    return out


def pearson(t: np.ndarray, p: np.ndarray) -> float:
    """Pearson r; NaN when either side is constant (undefined, not zero)."""
    if np.ptp(t) == 0 or np.ptp(p) == 0:
        return float("nan")
    return float(pearsonr(t, p).statistic)


def auroc_metrics(
    split: str, names: list[str], y_true: np.ndarray, y_prob: np.ndarray
) -> dict[str, float]:
    """AUROC per label when the targets are binary and both classes occur in the split."""
    out = {}
    for j, name in enumerate(names):
        t = y_true[:, j]
        if np.isin(t, [0.0, 1.0]).all() and len(np.unique(t)) == 2:
            out[f"{split}/auroc_{name}"] = float(roc_auc_score(t, y_prob[:, j]))
    return out


def classification_metrics(split: str, y_true: np.ndarray, y_prob: np.ndarray) -> dict[str, float]:
    """Accuracy, macro F1 and log loss of 4-class probabilities ``[n, 4]``."""
    labels = np.arange(N_QUADRANTS)
    y_prob = y_prob / y_prob.sum(1, keepdims=True)  # float32 model outputs miss 1 by rounding
    y_pred = y_prob.argmax(1)
    return {
        f"{split}/accuracy_quadrant": float(accuracy_score(y_true, y_pred)),
        f"{split}/f1_macro_quadrant": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        f"{split}/log_loss_quadrant": float(log_loss(y_true, y_prob, labels=labels)),
    }


def summary_line(metrics: dict[str, float], split: str = "test") -> str:
    """One console line per (encoder, probe): the headline score of every task it ran.

    Regression: R² per dimension; quadrant: accuracy and macro F1; labels (e.g. GEMS): mean R²,
    mean Pearson r and mean AUROC over the labels; dynamic: the per-song r (MediaEval's measure).
    """
    get = {k.removeprefix(f"{split}/"): v for k, v in metrics.items() if k.startswith(f"{split}/")}
    parts = []
    if "r2_mean" in get:
        parts.append(
            "R² "
            + ", ".join(
                f"{d} {get[f'r2_{d}']:.2f}" for d in ("valence", "arousal") if f"r2_{d}" in get
            )
        )
    if "accuracy_quadrant" in get:
        parts.append(
            f"quadrant acc {get['accuracy_quadrant']:.2f}, F1 {get['f1_macro_quadrant']:.2f}"
        )
    if "r2_mean_labels" in get:
        labels = [k.removeprefix("auroc_") for k in get if k.startswith("auroc_")]
        r = np.nanmean([get[f"pearson_{n}"] for n in labels]) if labels else np.nan
        auroc = np.nanmean([get[f"auroc_{n}"] for n in labels]) if labels else np.nan
        parts.append(
            f"{len(labels)} labels: mean R² {get['r2_mean_labels']:.2f}, r {r:.2f}, "
            f"AUROC {auroc:.2f}"
        )
    if "song_pearson_valence_dynamic" in get or "song_pearson_arousal_dynamic" in get:
        parts.append(
            "2-Hz song r "
            + ", ".join(
                f"{d} {get[f'song_pearson_{d}_dynamic']:.2f}"
                for d in ("valence", "arousal")
                if f"song_pearson_{d}_dynamic" in get
            )
        )
    return f"{split}: " + "; ".join(parts) if parts else f"{split}: no metrics"
