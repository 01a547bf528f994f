"""Phase 1: the 386 handcrafted features → Pearson / SHAP selection → the classical model grid.

Features come from the embedding store of the handcrafted encoder (computed by the embed stage
for every FX condition). Per target: Pearson top-k and SHAP top-k on train, the four feature sets,
then every (feature set, model) pair is grid-searched with k-fold CV on train and scored on
val/test. Model names are ``<model>_<feature set>``, e.g. ``ridge_shap_or_pearson``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from emofx.embed.store import EmbeddingStore
from emofx.encoders.handcrafted import feature_names
from emofx.evaluation.folds import Fold
from emofx.probes.metrics import short_target
from emofx.probes.tasks import TaskData
from emofx.systems.classical import fit_grid
from emofx.systems.common import (
    evaluate,
    fits_of,
    open_store,
    regression_task,
    score_all_splits,
    write_protocol_predictions,
)
from emofx.systems.config import Phase1Params
from emofx.systems.features import (
    feature_sets,
    pearson_scores,
    save_shap_summary,
    shap_importance,
    top_k,
)
from emofx.tracking import nested_run

SYSTEM = "phase1"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Selection:
    """One target's ranking and feature sets (indices into the feature vector)."""

    pearson: np.ndarray  # [n_features] |r| on train
    shap: np.ndarray  # [n_features] mean |SHAP| on train
    sets: dict[str, list[int]]


def store_feature_names(store: EmbeddingStore, dim: int) -> list[str]:
    """The handcrafted names when the store holds the 386-d features, else ``f000``…"""
    names = feature_names()
    return names if dim == len(names) else [f"f{i:03d}" for i in range(dim)]


def select_features(
    x_train: np.ndarray,
    y_train: np.ndarray,
    params: Phase1Params,
    seed: int,
    names: list[str],
    plot_path: Path | None = None,
    title: str = "",
) -> Selection:
    """Pearson and SHAP rankings of one target on train rows, and the feature sets."""
    pearson = pearson_scores(x_train, y_train)
    shap_result = shap_importance(x_train, y_train, params.shap_trees, seed)
    if plot_path is not None:
        save_shap_summary(shap_result, names, f"SHAP on train: {title}", plot_path)
    sets = feature_sets(
        top_k(pearson, params.top_k), top_k(shap_result.importance, params.top_k), len(pearson)
    )
    return Selection(pearson, shap_result.importance, sets)


def run_phase1(
    params: Phase1Params,
    manifest: pd.DataFrame,
    targets: list[str],
    embeddings_root: Path,
    predictions_root: Path,
    figures_dir: Path,
    seed: int,
    folds: list[Fold] | None = None,
) -> dict[str, dict[str, float]]:
    """Fit, score and predict every (model, feature set); returns ``{"phase1/<name>": metrics}``.

    With ``folds`` (cross-validation) the features are selected and the models fitted inside each
    fold's training tracks; predictions are out of fold (the SHAP figure is the first fold's).
    """
    store = open_store(embeddings_root, params.encoder, "systems.phase1")
    index = store.index()
    data = regression_task(index, manifest, targets)
    track_ids = index["track_id"].astype(str).to_numpy()
    features = {c: np.asarray(store.load(c, 0))[data.rows] for c in store.conditions()}
    names = store_feature_names(store, features["clean"].shape[1])
    views = fits_of(data, track_ids, folds)

    selections: list[dict[str, Selection]] = []
    with nested_run(f"{SYSTEM}/features", {"emofx.system": SYSTEM}) as run:
        for k, view in enumerate(views):
            train = view.mask("train")
            selections.append({})
            for j, target in enumerate(targets):
                plot = Path(figures_dir) / f"shap_summary_{short_target(target)}.png"
                selections[k][target] = select_features(
                    features["clean"][train], view.y[train, j], params, seed, names,
                    plot if k == 0 else None, short_target(target),
                )  # fmt: skip
        if run is not None:
            mlflow.log_dict(selection_report(selections[0], names), "feature_selection.json")

    results: dict[str, dict[str, float]] = {}
    for feature_set in params.feature_sets:
        columns = [{t: sel[t].sets[feature_set] for t in targets} for sel in selections]
        empty = sorted({t for cols in columns for t, c in cols.items() if not c})
        if empty:
            log.warning("phase1: feature set %s is empty for %s; skipped", feature_set, empty)
            continue
        for model in params.models:
            name = f"{model}_{feature_set}"
            with nested_run(f"{SYSTEM}/{name}", {"emofx.system": SYSTEM, "emofx.model": name}):
                metrics, preds = evaluate(
                    data,
                    track_ids,
                    folds,
                    lambda k, view, m=model, cols=columns: fit_one(
                        params, view, features, cols[k], m, seed, "" if folds is None else f"{k}."
                    ),
                )
                if mlflow.active_run() is not None:
                    mlflow.log_metrics(metrics)
            out = Path(predictions_root) / SYSTEM / name
            write_protocol_predictions(index, data, preds, folds, out)
            results[f"{SYSTEM}/{name}"] = metrics
    return results


def fit_one(
    params: Phase1Params,
    data: TaskData,
    features: dict[str, np.ndarray],
    columns: dict[str, list[int]],
    model: str,
    seed: int,
    param_prefix: str = "",
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Grid-search one model per target; metrics and per-condition predictions ``[n, targets]``
    (the chosen hyperparameters are logged as params named ``<param_prefix><target>.<knob>``)."""
    train = data.mask("train")
    preds = {c: np.zeros((len(data.rows), len(columns))) for c in features}
    chosen: dict[str, str] = {}
    for j, (target, cols) in enumerate(columns.items()):
        search = fit_grid(
            model,
            features["clean"][train][:, cols],
            data.y[train, j],
            params.grid(model),
            folds=params.cv_folds,
            seed=seed,
            pca=params.pca,
            n_jobs=params.n_jobs,
        )
        chosen |= {f"{short_target(target)}.{k}": str(v) for k, v in search.best_params_.items()}
        chosen[f"{short_target(target)}.n_features"] = str(len(cols))
        for condition, x in features.items():
            preds[condition][:, j] = search.predict(x[:, cols])
    if mlflow.active_run() is not None:
        mlflow.log_params({f"{param_prefix}{k}": v for k, v in chosen.items()})
    return score_all_splits(data, preds["clean"]), preds


def selection_report(selections: dict[str, Selection], names: list[str]) -> dict:
    """Feature names per set and the top-k rankings per target (logged as JSON)."""
    report = {}
    for target, sel in selections.items():
        report[target] = {
            "sets": {k: [names[i] for i in v] for k, v in sel.sets.items() if k != "full"},
            "pearson_top": [names[i] for i in top_k(sel.pearson, 20)],
            "shap_top": [names[i] for i in top_k(sel.shap, 20)],
        }
    return report
