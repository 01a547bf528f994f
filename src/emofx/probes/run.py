"""The probe stage: fit on clean train, choose on val, predict every condition.

Only clean train rows are ever fitted; the layer (for multi-layer encoders) is chosen on clean val;
predictions are written for every track under every condition so the analysis can score the test
split per condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from emofx.embed.store import EmbeddingStore, atomic_write
from emofx.probes.config import ProbeParams
from emofx.probes.gbt import fit_xgb_regressor
from emofx.probes.metrics import regression_metrics, short_target
from emofx.tracking import nested_run


@dataclass(frozen=True)
class ProbeData:
    """Clean embeddings of the labelled rows, aligned with their targets and splits."""

    rows: np.ndarray  # store row index of each labelled track
    y: np.ndarray  # [n, n_targets]
    split: np.ndarray


def labelled_rows(store: EmbeddingStore, manifest: pd.DataFrame, targets: list[str]) -> ProbeData:
    index = store.index()
    table = index.merge(
        manifest[["track_id", *targets]].astype({"track_id": str}),
        on="track_id",
        how="left",
        validate="1:1",
    )
    keep = table[targets].notna().all(axis=1).to_numpy()
    return ProbeData(
        rows=np.flatnonzero(keep),
        y=table.loc[keep, targets].to_numpy(dtype=np.float64),
        split=table.loc[keep, "split"].to_numpy(dtype=str),
    )


def select_layer(
    store: EmbeddingStore, data: ProbeData, params: ProbeParams, seed: int
) -> tuple[int, list[float]]:
    """Layer to probe: fixed by params, or the best mean val R² of a per-layer XGBoost sweep."""
    names = store.meta()["layer_names"]
    if params.layer != "best":
        if isinstance(params.layer, str):
            if params.layer not in names:
                raise ValueError(
                    f"probe.layer: {params.layer!r} is not a layer of {store.root.name} "
                    f"(layers: {names})"
                )
            return names.index(params.layer), []
        if not -len(names) <= params.layer < len(names):
            raise ValueError(f"probe.layer: {params.layer} out of range for {len(names)} layers")
        return params.layer % len(names), []
    scores = []
    tr, va = data.split == "train", data.split == "val"
    for layer in range(len(names)):
        x = store.load("clean", layer)[data.rows]
        model = fit_xgb_regressor(x[tr], data.y[tr], x[va], data.y[va], params.xgboost, seed)
        pred = model.predict(x[va]).reshape(-1, data.y.shape[1])
        metrics = regression_metrics("val", params.targets, data.y[va], pred)
        scores.append(
            float(np.mean([metrics[f"val/r2_{short_target(t)}"] for t in params.targets]))
        )
    return int(np.argmax(scores)), scores


def run_probes(
    params: ProbeParams,
    manifest: pd.DataFrame,
    embeddings_root: Path,
    encoders: list[str],
    predictions_root: Path,
    seed: int,
) -> dict[str, dict[str, float]]:
    """Fit every (encoder, probe), log to MLflow (nested runs), write predictions."""
    results: dict[str, dict[str, float]] = {}
    for encoder in encoders:
        store = EmbeddingStore(embeddings_root / encoder)
        data = labelled_rows(store, manifest, params.targets)
        for split in ("train", "val", "test"):
            if not (data.split == split).any():
                raise ValueError(f"encoder {encoder}: no labelled tracks in the {split} split")
        layer, sweep = select_layer(store, data, params, seed)
        layer_name = store.meta()["layer_names"][layer]
        for probe in params.probes:
            with nested_run(f"{encoder}/{probe}", {"emofx.encoder": encoder, "emofx.probe": probe}):
                for i, score in enumerate(sweep):
                    mlflow.log_metric("val/layer_sweep_r2_mean", score, step=i)
                mlflow.log_params(
                    {
                        "layer": layer_name,
                        "layer_index": layer,
                        "n_train": int((data.split == "train").sum()),
                    }
                )
                x = store.load("clean", layer)[data.rows]
                tr, va = data.split == "train", data.split == "val"
                model = fit_xgb_regressor(
                    x[tr], data.y[tr], x[va], data.y[va], params.xgboost, seed
                )
                metrics = {}
                for split in ("train", "val", "test"):
                    mask = data.split == split
                    pred = model.predict(x[mask]).reshape(-1, data.y.shape[1])
                    metrics.update(regression_metrics(split, params.targets, data.y[mask], pred))
                mlflow.log_metrics(metrics)
                mlflow.log_metric("best_iteration", model.best_iteration)
                results[f"{encoder}.{probe}"] = metrics
                write_predictions(
                    store, model, layer, params.targets, predictions_root / encoder / probe
                )
    return results


def write_predictions(
    store: EmbeddingStore, model, layer: int, targets: list[str], out_dir: Path
) -> None:
    """One parquet per condition: ``track_id, split, condition, pred_<target>…`` for every track."""
    index = store.index()
    for condition in store.conditions():
        pred = model.predict(store.load(condition, layer)).reshape(len(index), len(targets))
        frame = index[["track_id", "split"]].assign(condition=condition)
        for j, target in enumerate(targets):
            frame[f"pred_{target}"] = pred[:, j]
        atomic_write(
            out_dir / f"{condition}.parquet", lambda tmp, f=frame: f.to_parquet(tmp, index=False)
        )
