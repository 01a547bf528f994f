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

from emofx.fx.conditions import load_conditions
from emofx.probes.metrics import short_target
from emofx.probes.tasks import SPLITS
from emofx.systems.chunks import ChunkSet, condition_chunks
from emofx.systems.common import regression_task, score_all_splits, write_condition_predictions
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
) -> dict[str, dict[str, float]]:
    """Train, score and predict every configured network; ``{"spectrogram/<name>": metrics}``."""
    index = manifest[["track_id", "split"]].astype({"track_id": str}).reset_index(drop=True)
    data = regression_task(index, manifest, targets)
    track_ids = index["track_id"].iloc[data.rows].tolist()
    conditions = load_conditions(conditions_path)
    clean = next(c for c in conditions if c.id == "clean")
    kw = {"hop_s": params.hop_s, "workers": params.workers}
    split_ids = {s: [t for t, m in zip(track_ids, data.mask(s), strict=True) if m] for s in SPLITS}
    chunks = {s: condition_chunks(prepared_dir, ids, clean, **kw) for s, ids in split_ids.items()}
    y = {s: data.y[data.mask(s)] for s in SPLITS}

    results: dict[str, dict[str, float]] = {}
    preds: dict[str, dict[str, np.ndarray]] = {}
    trained: dict[str, list[tuple[list[int], SpectrogramNet]]] = {}
    for name in params.models:
        config = TrainConfig.load(Path(params.config_dir) / f"train.{name}.yaml", params)
        with nested_run(f"{SYSTEM}/{name}", {"emofx.system": SYSTEM, "emofx.model": name}) as run:
            trained[name] = []
            for cols in target_groups(targets, params.targets):
                names = [targets[c] for c in cols]
                with training_run(run, f"{SYSTEM}/{name}", names, params.targets) as fit_run:
                    logger = None
                    if fit_run is not None:
                        logger = MLFlowLogger(
                            tracking_uri=mlflow.get_tracking_uri(), run_id=fit_run.info.run_id
                        )
                    fitted = fit_network(
                        config,
                        names,
                        chunks["train"],
                        y["train"][:, cols],
                        chunks["val"],
                        y["val"][:, cols],
                        seed,
                        logger=logger,
                    )
                trained[name].append((cols, fitted))
            clean_pred = np.zeros((len(track_ids), len(targets)))
            for split, c in chunks.items():
                clean_pred[data.mask(split)] = predict_all(trained[name], c, len(targets))
            results[f"{SYSTEM}/{name}"] = score_all_splits(data, clean_pred)
            if run is not None:
                mlflow.log_metrics(results[f"{SYSTEM}/{name}"])
        preds[name] = {"clean": clean_pred}
    del chunks
    for condition in conditions:  # one rendering per condition serves every network
        if condition.id != "clean":
            c = condition_chunks(prepared_dir, track_ids, condition, **kw)
            for name, networks in trained.items():
                preds[name][condition.id] = predict_all(networks, c, len(targets))
    for name, by_condition in preds.items():
        write_condition_predictions(
            index, data, by_condition, Path(predictions_root) / SYSTEM / name
        )
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
