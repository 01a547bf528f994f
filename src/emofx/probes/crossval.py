"""The probe stage under ``evaluation.protocol: cv``: out-of-fold predictions for every track.

Per fold (:mod:`emofx.evaluation.folds`) each task's rows are relabelled ``train`` / ``val`` /
``test`` (held out), so everything the split protocol does on train and val (layer sweep, Optuna,
early stopping, ``auto`` regularisation) runs inside the fold's training tracks unchanged; the
held-out tracks are predicted under every condition. Embeddings are read from the one store (no
re-extraction per fold). The ``final`` fold refits on every track (inner val for the choices) and
is the model that is logged and registered (skipped with ``register_models: false``); its score
is the pooled out-of-fold one. MLflow::

    <encoder>/<probe>/<task>                   final refit, registered; test/* = out-of-fold
        <encoder>/<probe>/<task>/repeat-0/fold-0 …   one run per fold (test/* = that fold)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from emofx.embed.store import atomic_write
from emofx.evaluation.folds import FINAL, VALIDATION_FILE, Fold, fold_columns, held_out
from emofx.probes.config import ProbeParams
from emofx.probes.fit import FittedProbe, LayerChoice, load_features
from emofx.probes.metrics import score_split, selection_metric
from emofx.probes.registry import Selection
from emofx.probes.run import (
    EncoderContext,
    choose_layers,
    fit_in_run,
    register_fitted,
    run_tags,
)
from emofx.probes.tasks import N_QUADRANTS, TaskData, prediction_columns
from emofx.tracking import nested_run


@dataclass(frozen=True)
class FoldFit:
    fold: Fold
    layer: LayerChoice
    fitted: FittedProbe
    metrics: dict[str, float]


def fold_task(data: TaskData, fold: Fold, track_ids: np.ndarray) -> TaskData:
    """``data`` with each row's role in ``fold`` as its split (``test`` = held out)."""
    view = replace(data, split=fold.roles(track_ids[data.rows]))
    if data.task == "quadrant":
        absent = sorted(set(range(N_QUADRANTS)) - set(view.y[view.mask("train")]))
        if absent:
            raise ValueError(
                f"probe task 'quadrant': {fold.name} has no train tracks in quadrant(s) "
                f"{[q + 1 for q in absent]}; lower evaluation.folds"
            )
    return view


@dataclass(frozen=True)
class FoldSetup:
    """The fits of one store under cv: the folds (``final`` only when models are registered),
    each task's rows relabelled per fold and the layers chosen inside each fold."""

    folds: list[Fold]
    per_fold: dict[str, list[TaskData]]
    layers: dict[str, dict[tuple[str, str], LayerChoice]]

    @classmethod
    def of(
        cls,
        ctx: EncoderContext,
        tasks: list[TaskData],
        folds: list[Fold],
        params: ProbeParams,
        seed: int,
        out_dir: Path,
    ) -> FoldSetup:
        folds = folds if params.register_models else held_out(folds)
        track_ids = ctx.store.index()["track_id"].astype(str).to_numpy()
        per_fold = {f.name: [fold_task(d, f, track_ids) for d in tasks] for f in folds}
        layers = {
            f.name: choose_layers(ctx, per_fold[f.name], params, seed, out_dir / "folds" / slug(f))
            for f in folds
        }
        return cls(folds, per_fold, layers)

    def fit(
        self, ctx: EncoderContext, probe: str, task: int, params: ProbeParams, seed: int
    ) -> tuple[list[FoldFit], dict[str, float]]:
        """Task number ``task``'s fits of ``probe`` in every fold (see :func:`fit_task`)."""
        data = [self.per_fold[f.name][task] for f in self.folds]
        layers = [self.layers[f.name][probe, d.task] for f, d in zip(self.folds, data, strict=True)]
        return fit_task(ctx, probe, self.folds, data, layers, params, seed)


def run_cv_dynamic(
    ctx: EncoderContext,
    data: TaskData,
    folds: list[Fold],
    params: ProbeParams,
    seed: int,
    out_dir: Path,
) -> dict[str, tuple[dict[str, float], dict[str, list[dict[str, np.ndarray]]]]]:
    """The ``dynamic`` task on the frame store ``ctx.store`` under cv: a frame is held out with
    its track (the folds are the static tasks' own), so each song's curve is predicted by the
    fold that never saw any of its frames. Returns per probe the metrics (``test/…`` pooled out
    of fold, per-song scores included) and per condition the prediction columns of every frame
    row, one dict per repeat."""
    setup = FoldSetup.of(ctx, [data], folds, params, seed, out_dir)
    n_rows = len(ctx.store.index())
    out = {}
    for probe in params.probes:
        fits, metrics = setup.fit(ctx, probe, 0, params, seed)
        out[probe] = metrics, predict_out_of_fold(ctx, data, fits, n_rows)
    return out


def run_cv_encoder(
    ctx: EncoderContext,
    tasks: list[TaskData],
    folds: list[Fold],
    params: ProbeParams,
    seed: int,
    out_dir: Path,
) -> dict[str, dict[str, dict[str, float]]]:
    """Fit every (probe, task) per fold and, to register it, once on all tracks; write
    out-of-fold predictions ``out_dir/<probe>/<condition>.parquet``; returns
    ``{probe: {task: metrics}}``."""
    index = ctx.store.index()
    setup = FoldSetup.of(ctx, tasks, folds, params, seed, out_dir)
    report: dict[str, dict[str, dict[str, float]]] = {}
    for probe in params.probes:
        columns: dict[str, list[dict[str, np.ndarray]]] = {}
        for t, data in enumerate(tasks):
            fits, metrics = setup.fit(ctx, probe, t, params, seed)
            report.setdefault(probe, {})[data.task] = metrics
            for condition, parts in predict_out_of_fold(ctx, data, fits, len(index)).items():
                merged = columns.setdefault(condition, [{} for _ in parts])
                for into, part in zip(merged, parts, strict=True):
                    into |= part
        if tasks:
            write_oof_predictions(index, setup.folds, columns, out_dir / probe)
            write_validation_scores(report[probe], tasks, out_dir / probe)
    return report


def write_validation_scores(
    metrics: dict[str, dict[str, float]], tasks: list[TaskData], out_dir: Path
) -> None:
    scores = {
        data.task: {"metric": name, "score": metrics[data.task][f"cv/val_{name}_mean"]}
        for data in tasks
        if f"cv/val_{(name := selection_metric(data))}_mean" in metrics[data.task]
    }
    text = json.dumps(scores, indent=2, sort_keys=True) + "\n"
    atomic_write(out_dir / VALIDATION_FILE, lambda tmp: tmp.write_text(text))


def slug(fold: Fold) -> str:
    return fold.name.replace("/", "-")


def fit_task(
    ctx: EncoderContext,
    probe: str,
    folds: list[Fold],
    data: list[TaskData],
    layers: list[LayerChoice],
    params: ProbeParams,
    seed: int,
) -> tuple[list[FoldFit], dict[str, float]]:
    """Every fold's fit in its own child run; the parent run gets the pooled out-of-fold scores
    (``test/…``), their per-fold spread (``cv/…``) and, when ``folds`` has the final fold, the
    final refit and its registered model. Returns the held-out folds' fits and the parent's
    metrics."""
    task = data[0].task
    run_name = f"{ctx.encoder}/{probe}/{task}"
    parts = list(zip(folds, data, layers, strict=True))
    final = [part for part in parts if part[0].fold == FINAL]
    fold_parts = [part for part in parts if part[0].fold != FINAL]
    _, tag_data, tag_layer = (final or fold_parts)[0]
    with nested_run(run_name, run_tags(ctx, probe, tag_data, tag_layer)) as run:
        mlflow.log_input(ctx.data_input, context="train")
        fits = []
        for fold, fold_data, layer in fold_parts:
            name = f"{run_name}/{fold.name}"
            with nested_run(name, run_tags(ctx, probe, fold_data, layer)) as child:
                fitted, metrics, _ = fit_in_run(
                    ctx, probe, fold_data, layer, params, seed, child, name
                )
            fits.append(FoldFit(fold, layer, fitted, metrics))
        metrics: dict[str, float] = {}
        if final:
            _, final_data, final_layer = final[0]
            fitted, metrics, x = fit_in_run(
                ctx, probe, final_data, final_layer, params, seed, run, run_name
            )
        metrics |= out_of_fold_metrics(ctx, tag_data, fits)
        mlflow.log_params({"evaluation.protocol": "cv", "evaluation.fits": len(fits)})
        oof = ("test/", "cv/", "seeds/test/")
        mlflow.log_metrics({k: v for k, v in metrics.items() if k.startswith(oof)})
        if final:
            metric = f"test/{selection_metric(final_data)}"
            selection = Selection(
                metric,
                metrics[metric],
                "out_of_fold",
                task,
                tuple(final_data.outputs),
                ctx.data_input.digest,
            )
            register_fitted(ctx, probe, fitted, final_data, x, selection)
    return fits, metrics


def out_of_fold_metrics(
    ctx: EncoderContext, data: TaskData, fits: list[FoldFit]
) -> dict[str, float]:
    """``test/…``: every labelled track's clean out-of-fold prediction scored at once (the mean
    over repeats); ``cv/<selection metric>_mean|_std|_min|_max`` over the folds' own scores;
    with ``probe.mlp.seeds`` the folds' mean seed spread ``seeds/test/<metric>_std``."""
    track_ids = ctx.store.index()["track_id"].astype(str).to_numpy()[data.rows]
    everything = replace(data, split=np.full(len(data.rows), "test"))
    by_repeat: dict[int, np.ndarray] = {}
    for fit in fits:
        held = fit.fold.roles(track_ids) == "test"
        x = load_features(ctx.store, "clean", fit.layer)[data.rows[held]]
        pred = by_repeat.setdefault(fit.fold.repeat, np.zeros((len(data.rows), data.n_outputs)))
        pred[held] = fit.fitted.predict(x)
    pooled = [score_split(everything, "test", pred) for pred in by_repeat.values()]
    metrics = {k: float(np.mean([p[k] for p in pooled])) for k in pooled[0]}
    key = f"test/{selection_metric(data)}"
    scores = np.array([fit.metrics[key] for fit in fits])
    name = f"cv/{selection_metric(data)}"
    inner = [fit.metrics.get(f"val/{selection_metric(data)}", np.nan) for fit in fits]
    inner = [v for v in inner if np.isfinite(v)]
    if inner:  # each fold's inner-validation score: what chooses the probe in the report
        metrics[f"cv/val_{selection_metric(data)}_mean"] = float(np.mean(inner))
    seeds = f"seeds/{key}_std"  # probe.mlp.seeds > 1: each fold's seed spread, mean over folds
    if seeds in fits[0].metrics:
        metrics[seeds] = float(np.mean([fit.metrics[seeds] for fit in fits]))
    return metrics | {
        f"{name}_mean": float(scores.mean()),
        f"{name}_std": float(scores.std(ddof=1)) if len(scores) > 1 else 0.0,
        f"{name}_min": float(scores.min()),
        f"{name}_max": float(scores.max()),
    }


def predict_out_of_fold(
    ctx: EncoderContext, data: TaskData, fits: list[FoldFit], n_rows: int
) -> dict[str, list[dict[str, np.ndarray]]]:
    """Per condition and repeat: the prediction columns of every store row, each row predicted
    by the fold that held it out (one features array in memory at a time)."""
    track_ids = ctx.store.index()["track_id"].astype(str).to_numpy()
    repeats = sorted({f.fold.repeat for f in fits})
    out = {}
    for condition in ctx.store.conditions():
        preds = [np.zeros((n_rows, data.n_outputs)) for _ in repeats]
        for layer in dict.fromkeys(f.layer for f in fits):
            x = load_features(ctx.store, condition, layer)
            for fit in (f for f in fits if f.layer == layer):
                held = fit.fold.roles(track_ids) == "test"
                preds[fit.fold.repeat][held] = fit.fitted.predict(x[held])
        out[condition] = [prediction_columns(data, p) for p in preds]
    return out


def write_oof_predictions(
    index: pd.DataFrame,
    folds: list[Fold],
    columns: dict[str, list[dict[str, np.ndarray]]],
    out_dir: Path,
) -> None:
    """One parquet per condition: ``track_id, split, condition, fold`` (``repeat`` with several
    repeats, one row per track and repeat) + the prediction columns."""
    keys = out_of_fold_keys(folds, index["track_id"].astype(str).to_numpy())
    for condition, parts in columns.items():
        frame = pd.concat(
            [
                index[["track_id", "split"]].assign(condition=condition, **k, **cols)
                for k, cols in zip(keys, parts, strict=True)
            ],
            ignore_index=True,
        )
        atomic_write(
            out_dir / f"{condition}.parquet", lambda tmp, f=frame: f.to_parquet(tmp, index=False)
        )


def out_of_fold_keys(folds: list[Fold], track_ids: np.ndarray) -> list[dict[str, np.ndarray | int]]:
    """Per repeat, the key columns of its out-of-fold rows: ``fold`` (each row's held-out fold)
    and, with several repeats, ``repeat``; in the order :func:`predict_out_of_fold` returns."""
    repeats = sorted({f.repeat for f in held_out(folds)})
    return [
        {"fold": fold_columns(folds, track_ids, r)} | ({"repeat": r} if len(repeats) > 1 else {})
        for r in repeats
    ]
