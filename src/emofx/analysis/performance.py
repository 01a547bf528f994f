"""Probe performance per condition on the scored split, and its paired delta to ``clean``.

Metrics are written vectorised over leading axes (tracks on axis -1, labels last for multi-label)
so one call scores every bootstrap resample; tests pin them to scikit-learn's definitions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emofx.analysis.config import AnalysisParams
from emofx.analysis.loading import CLEAN, QUADRANT_NAMES, REGRESSION_TARGETS, PredictionSet
from emofx.analysis.statistics import bootstrap_ci

Metric = Callable[[np.ndarray, np.ndarray], np.ndarray]


def r2(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    residual = ((y - p) ** 2).sum(axis=-1)
    total = ((y - y.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    return 1.0 - residual / total


def rmse(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.sqrt(((y - p) ** 2).mean(axis=-1))


def mae(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.abs(y - p).mean(axis=-1)


def pearson(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Pearson r (NaN where either side is constant)."""
    yc = y - y.mean(axis=-1, keepdims=True)
    pc = p - p.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (yc * pc).sum(-1) / np.sqrt((yc**2).sum(-1) * (pc**2).sum(-1))


def accuracy(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return (y == p).mean(axis=-1)


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)


def f1_macro_classes(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Macro F1 of single-label classes 1–4 over the classes seen in ``y`` or ``p``."""
    classes = np.array(list(QUADRANT_NAMES))
    yc, pc = y[..., None] == classes, p[..., None] == classes
    tp, fp, fn = ((yc & pc).sum(-2), (~yc & pc).sum(-2), (yc & ~pc).sum(-2))
    present = (tp + fp + fn) > 0
    return (_f1(tp, fp, fn) * present).sum(-1) / present.sum(-1)


def _label_counts(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, ...]:
    return (y & p).sum(-2), (~y & p).sum(-2), (y & ~p).sum(-2)


def f1_micro_labels(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Micro F1 of multi-label ``[..., n, labels]`` boolean arrays."""
    tp, fp, fn = (c.sum(-1) for c in _label_counts(y, p))
    return _f1(tp, fp, fn)


def f1_macro_labels(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Macro F1 of multi-label arrays (a label never true nor predicted scores 0, as in sklearn)."""
    return _f1(*_label_counts(y, p)).mean(-1)


@dataclass(frozen=True)
class Task:
    """One scored target: truth and per-condition predictions on the tracks where truth exists."""

    name: str
    task: str  # one of loading.TASKS
    truth: np.ndarray
    predictions: dict[str, np.ndarray]
    metrics: dict[str, Metric]


def tasks(pset: PredictionSet, manifest: pd.DataFrame, params: AnalysisParams) -> list[Task]:
    """Every target this prediction set can be scored on, given the manifest's truth columns."""
    truth = manifest.loc[pset.track_ids]
    out = []
    if pset.has_regression:
        for target, column in REGRESSION_TARGETS.items():
            if column not in truth:
                continue
            keep = truth[column].notna().to_numpy()
            out.append(
                Task(
                    target,
                    "regression",
                    truth[column].to_numpy(np.float64)[keep],
                    _per_condition(pset, f"pred_{column}", keep, np.float64),
                    {"r2": r2, "rmse": rmse, "mae": mae},
                )
            )
    if pset.has_classification and "quadrant" in truth:
        keep = truth["quadrant"].notna().to_numpy()
        out.append(
            Task(
                "quadrant",
                "quadrant",
                truth["quadrant"].to_numpy()[keep].astype(int),
                _per_condition(pset, "pred_quadrant", keep, int),
                {"accuracy": accuracy, "f1_macro": f1_macro_classes},
            )
        )
    if pset.label_names and "labels" in truth:
        keep = truth["labels"].notna().to_numpy()
        labels = truth["labels"][keep]
        shares = np.array([[d.get(n, 0.0) for n in pset.label_names] for d in labels])
        columns = [f"prob_{n}" for n in pset.label_names]
        out.append(
            Task(
                "labels",
                "labels",
                shares >= params.label_threshold,
                {  # the same threshold as the truth: a label is present at ≥ label_threshold
                    c: f[columns].to_numpy(np.float64)[keep] >= params.label_threshold
                    for c, f in pset.frames.items()
                },
                {"f1_micro": f1_micro_labels, "f1_macro": f1_macro_labels},
            )
        )
        for k, name in enumerate(pset.label_names):  # the proportion itself, per emotion
            if np.ptp(shares[:, k]) == 0:
                continue  # R² and r are undefined for a constant annotation
            out.append(
                Task(
                    name,
                    "labels",
                    shares[:, k],
                    _per_condition(pset, f"prob_{name}", keep, np.float64),
                    {"r2": r2, "r": pearson},
                )
            )
    return [t for t in out if len(t.truth) >= 2]


def _per_condition(
    pset: PredictionSet, column: str, keep: np.ndarray, dtype: type
) -> dict[str, np.ndarray]:
    return {c: f[column].to_numpy()[keep].astype(dtype) for c, f in pset.frames.items()}


def performance_table(
    pset: PredictionSet, manifest: pd.DataFrame, params: AnalysisParams, seed: int
) -> pd.DataFrame:
    """One row per (condition, metric): value, clean value, delta and its paired bootstrap CI."""
    rows = []
    for task in tasks(pset, manifest, params):
        y, clean = task.truth, task.predictions[CLEAN]
        for metric_name, metric in task.metrics.items():
            clean_value = float(metric(y, clean))
            for cond, pred in task.predictions.items():
                value = float(metric(y, pred))
                if cond == CLEAN:
                    ci = (0.0, 0.0)
                else:
                    ci = bootstrap_ci(
                        lambda i, m=metric, y=y, p=pred, c=clean: m(y[i], p[i]) - m(y[i], c[i]),
                        len(y),
                        params,
                        seed,
                    )
                rows.append(
                    {
                        "encoder": pset.encoder,
                        "probe": pset.probe,
                        "condition": cond,
                        "task": task.task,
                        "metric": f"{metric_name}_{task.name}",
                        "value": value,
                        "clean_value": clean_value,
                        "delta": value - clean_value,
                        "ci_low": ci[0],
                        "ci_high": ci[1],
                        "n": len(y),
                    }
                )
    return pd.DataFrame(rows)


def fold_table(pset: PredictionSet, manifest: pd.DataFrame, params: AnalysisParams) -> pd.DataFrame:
    """Out-of-fold predictions (a ``fold`` column): every clean metric per fold, ``encoder,
    probe, task, metric, fold, n, value`` — the spread the pooled score hides. Empty otherwise."""
    columns = ["encoder", "probe", "task", "metric", "fold", "n", "value"]
    clean = pset.frames[CLEAN]
    if "fold" not in clean:
        return pd.DataFrame(columns=columns)
    rows = []
    truth = manifest.loc[pset.track_ids]
    for task in tasks(pset, manifest, params):
        column = {"regression": REGRESSION_TARGETS.get(task.name), "quadrant": "quadrant"}.get(
            task.task, "labels"
        )
        keep = truth[column].notna().to_numpy()
        fold = clean["fold"].to_numpy()[keep]
        for k in np.unique(fold):
            at = fold == k
            for metric_name, metric in task.metrics.items():
                value = float(metric(task.truth[at], task.predictions[CLEAN][at]))
                rows.append((pset.encoder, pset.probe, task.task, f"{metric_name}_{task.name}",
                             int(k), int(at.sum()), value))  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
