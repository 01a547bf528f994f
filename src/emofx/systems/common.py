"""What every system shares: targets joined to store rows, the evaluation protocol, scoring,
prediction files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from emofx.embed.store import EmbeddingStore
from emofx.evaluation.folds import Fold, held_out
from emofx.probes.crossval import write_oof_predictions
from emofx.probes.metrics import score_split
from emofx.probes.run import write_predictions
from emofx.probes.tasks import SPLITS, TaskData, build_task, prediction_columns


def open_store(embeddings_root: Path, encoder: str, key: str) -> EmbeddingStore:
    """The encoder's embedding store, or an error telling how to produce it (``key``: params)."""
    store = EmbeddingStore(Path(embeddings_root) / encoder)
    if not (store.root / "meta.json").is_file():
        raise FileNotFoundError(
            f"{key}: no embedding store at {store.root} "
            f"(add {encoder!r} to embed.encoders and run the embed stage)"
        )
    return store


def regression_task(index: pd.DataFrame, manifest: pd.DataFrame, targets: list[str]) -> TaskData:
    """Store rows with both targets labelled, their targets and (manifest-fixed) splits."""
    return build_task("regression", index, manifest, targets)


def score_all_splits(data: TaskData, pred: np.ndarray) -> dict[str, float]:
    """``train/…``, ``val/…``, ``test/…`` metrics of predictions ``[n_rows, n_targets]``."""
    metrics: dict[str, float] = {}
    for split in SPLITS:
        metrics |= score_split(data, split, pred[data.mask(split)])
    return metrics


def write_condition_predictions(
    index: pd.DataFrame, data: TaskData, preds: dict[str, np.ndarray], out_dir: Path
) -> None:
    """One parquet per condition (``track_id, split, condition, pred_<target>``), labelled rows."""
    rows = index.iloc[data.rows].reset_index(drop=True)
    write_predictions(
        rows, {c: prediction_columns(data, p) for c, p in preds.items()}, Path(out_dir)
    )


FoldFit = Callable[[int, TaskData], tuple[dict[str, float], dict[str, np.ndarray]]]


def fits_of(data: TaskData, track_ids: np.ndarray, folds: list[Fold] | None) -> list[TaskData]:
    """The task as each fit sees it: the manifest's split, or each held-out fold's roles."""
    if folds is None:
        return [data]
    return [replace(data, split=f.roles(track_ids[data.rows])) for f in held_out(folds)]


def evaluate(
    data: TaskData,
    track_ids: np.ndarray,
    folds: list[Fold] | None,
    fit: FoldFit,
) -> tuple[dict[str, float], dict[str, list[np.ndarray]]]:
    """Run ``fit`` (``k``-th view of :func:`fits_of` → metrics, ``{condition: [n_rows, k]}``)
    on every view and :func:`combine` the results."""
    views = fits_of(data, track_ids, folds)
    return combine(data, folds, views, [fit(k, view) for k, view in enumerate(views)])


def combine(
    data: TaskData,
    folds: list[Fold] | None,
    views: list[TaskData],
    fitted: list[tuple[dict[str, float], dict[str, np.ndarray]]],
) -> tuple[dict[str, float], dict[str, list[np.ndarray]]]:
    """Metrics and predictions (one array per repeat) of the fits of ``views`` under the protocol.

    Split: the one fit's. Cross-validation: each row's prediction from the fold that held it out;
    ``test/…`` scored on every row's out-of-fold clean prediction (mean over repeats), ``val/…``
    the folds' mean inner-val scores (what chooses among systems) and ``cv/r2_mean_*`` the folds'
    spread.
    """
    if folds is None:
        metrics, preds = fitted[0]
        return metrics, {c: [p] for c, p in preds.items()}
    fold_list = held_out(folds)
    n_repeats = max(f.repeat for f in fold_list) + 1
    out: dict[str, list[np.ndarray]] = {}
    for fold, view, (_, preds) in zip(fold_list, views, fitted, strict=True):
        held = view.mask("test")
        for condition, pred in preds.items():
            parts = out.setdefault(condition, [np.zeros_like(pred) for _ in range(n_repeats)])
            parts[fold.repeat][held] = pred[held]
    everything = replace(data, split=np.full(len(data.rows), "test"))
    pooled = [score_split(everything, "test", p) for p in out["clean"]]
    fold_metrics = [metrics for metrics, _ in fitted]
    scores = np.array([m["test/r2_mean"] for m in fold_metrics])
    val = {
        k: float(np.mean([m[k] for m in fold_metrics])) for k in fold_metrics[0] if k[:4] == "val/"
    }
    return val | {k: float(np.mean([p[k] for p in pooled])) for k in pooled[0]} | {
        "cv/r2_mean_mean": float(scores.mean()),
        "cv/r2_mean_std": float(scores.std(ddof=1)),
    }, out


def write_protocol_predictions(
    index: pd.DataFrame,
    data: TaskData,
    preds: dict[str, list[np.ndarray]],
    folds: list[Fold] | None,
    out_dir: Path,
) -> None:
    """Split: :func:`write_condition_predictions`; cross-validation: the labelled rows with
    their ``fold`` (and ``repeat``) columns, like the probes' out-of-fold files."""
    if folds is None:
        write_condition_predictions(index, data, {c: p[0] for c, p in preds.items()}, out_dir)
        return
    rows = index.iloc[data.rows].reset_index(drop=True)
    columns = {c: [prediction_columns(data, p) for p in parts] for c, parts in preds.items()}
    write_oof_predictions(rows, folds, columns, Path(out_dir))
