"""Phase 2: the four log-mel networks trained end to end on clean train chunks.

Train/val chunks are computed once from the prepared audio; for predictions every FX condition is
rendered and chunked on the fly, one condition at a time (nothing big is kept or cached).
Chunk outputs are averaged per song. ``targets: joint`` trains one 2-output network,
``separate`` one network per target.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from lightning.pytorch.loggers import MLFlowLogger

from emofx.evaluation.folds import Fold
from emofx.fx.conditions import load_conditions
from emofx.probes.metrics import short_target
from emofx.probes.tasks import SPLITS
from emofx.systems.chunks import ChunkSet, condition_chunks
from emofx.systems.common import (
    combine,
    fits_of,
    regression_task,
    score_all_splits,
    write_protocol_predictions,
)
from emofx.systems.config import SpectrogramParams
from emofx.systems.spectrogram import SpectrogramNet
from emofx.systems.training import TrainConfig, fit_network, predict_songs
from emofx.tracking import nested_run

SYSTEM = "spectrogram"


def run_phase2(
    params: SpectrogramParams,
    manifest: pd.DataFrame,
    targets: list[str],
    prepared_dir: Path,
    conditions_path: Path,
    predictions_root: Path,
    seed: int,
    folds: list[Fold] | None = None,
) -> dict[str, dict[str, float]]:
    """Train, score and predict every configured network; ``{"spectrogram/<name>": metrics}``.

    With ``folds`` (cross-validation) each network is trained once per fold on the fold's training
    tracks (early-stopped on its inner val); each FX condition is still rendered once, for every
    fold's network, and each track predicted by the fold that held it out.
    """
    index = manifest[["track_id", "split"]].astype({"track_id": str}).reset_index(drop=True)
    data = regression_task(index, manifest, targets)
    track_ids = index["track_id"].iloc[data.rows].tolist()
    conditions = load_conditions(conditions_path)
    clean = next(c for c in conditions if c.id == "clean")
    kw = {"hop_s": params.hop_s, "workers": params.workers}
    views = fits_of(data, index["track_id"].to_numpy(dtype=str), folds)
    clean_chunks = condition_chunks(prepared_dir, track_ids, clean, **kw)

    results: dict[str, dict[str, float]] = {}
    metrics: dict[str, list[dict[str, float]]] = {}
    preds: dict[str, list[dict[str, np.ndarray]]] = {}
    trained: dict[str, list[list[tuple[list[int], SpectrogramNet]]]] = {}
    for name in params.models:
        config = TrainConfig.load(Path(params.config_dir) / f"train.{name}.yaml", params)
        with nested_run(f"{SYSTEM}/{name}", {"emofx.system": SYSTEM, "emofx.model": name}) as run:
            metrics[name], preds[name], trained[name] = [], [], []
            for view in views:
                networks = []
                chunks = {s: clean_chunks.subset(view.mask(s)) for s in SPLITS[:2]}
                for cols in target_groups(targets, params.targets):
                    names = [targets[c] for c in cols]
                    with training_run(run, f"{SYSTEM}/{name}", names, params.targets) as fit_run:
                        logger = None
                        if fit_run is not None and folds is None:
                            logger = MLFlowLogger(
                                tracking_uri=mlflow.get_tracking_uri(), run_id=fit_run.info.run_id
                            )
                        fitted = fit_network(
                            config,
                            names,
                            chunks["train"],
                            view.y[view.mask("train")][:, cols],
                            chunks["val"],
                            view.y[view.mask("val")][:, cols],
                            seed,
                            logger=logger,
                        )
                    networks.append((cols, fitted))
                clean_pred = predict_all(networks, clean_chunks, len(targets))
                metrics[name].append(score_all_splits(view, clean_pred))
                preds[name].append({"clean": clean_pred})
                trained[name].append(networks)
            clean_only = [
                (m, {"clean": p["clean"]}) for m, p in zip(metrics[name], preds[name], strict=True)
            ]
            results[f"{SYSTEM}/{name}"] = combine(data, folds, views, clean_only)[0]
            if run is not None:
                mlflow.log_metrics(results[f"{SYSTEM}/{name}"])
    del clean_chunks
    for condition in conditions:  # one rendering per condition serves every network
        if condition.id != "clean":
            c = condition_chunks(prepared_dir, track_ids, condition, **kw)
            for name, per_view in trained.items():
                for k, networks in enumerate(per_view):
                    preds[name][k][condition.id] = predict_all(networks, c, len(targets))
    for name in params.models:
        fitted = list(zip(metrics[name], preds[name], strict=True))
        _, by_condition = combine(data, folds, views, fitted)
        out = Path(predictions_root) / SYSTEM / name
        write_protocol_predictions(index, data, by_condition, folds, out)
    return results


def training_run(
    run: mlflow.ActiveRun | None, name: str, names: list[str], mode: str
) -> AbstractContextManager[mlflow.ActiveRun | None]:
    """The run a network's training curves go to: the model's own run, or (``separate``) a
    child per target, since each network logs its own hyperparameters."""
    if mode == "joint" or run is None:
        return nullcontext(run)
    return nested_run(f"{name}/{short_target(names[0])}", {"emofx.target": names[0]})


def target_groups(targets: list[str], mode: str) -> list[list[int]]:
    """Column groups, one network each: all targets jointly, or one per target."""
    return [list(range(len(targets)))] if mode == "joint" else [[j] for j in range(len(targets))]


def predict_all(
    networks: list[tuple[list[int], SpectrogramNet]], chunks: ChunkSet, n_targets: int
) -> np.ndarray:
    """Per-track predictions of every network, written into its target columns."""
    out = np.zeros((int(chunks.group.max()) + 1, n_targets))
    for cols, model in networks:
        out[:, cols] = predict_songs(model, chunks)
    return out
