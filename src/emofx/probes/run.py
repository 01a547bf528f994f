"""The probe stage: fit on clean train, choose on val, score test once, predict every condition.

Per encoder: the tasks' targets are joined to the store rows; each (probe, task) gets its layer
(fixed, swept on val, or the MLP's learned mix), optional Optuna tuning on val, a final fit on
clean train rows, train/val/test metrics on clean, a logged and registered model, and predictions
for every track under every condition. MLflow tree below the CLI's stage run::

    <encoder>/layer_sweep                 (multi-layer encoders with ``layer: best``)
    <encoder>/<probe>/<task>              params, metrics, dataset input, model, registry tags
                                          (task ``dynamic``: on the frame store, 2-Hz rows)
        <encoder>/<probe>/<task>/tune     best params / value (when the probe is tuned)
            trial-000 …                   one run per Optuna trial
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from lightning.pytorch.loggers import MLFlowLogger
from mlflow.data.meta_dataset import MetaDataset

from emofx.embed.store import EmbeddingStore, atomic_write
from emofx.evaluation.config import EvaluationParams
from emofx.evaluation.folds import Fold, cv_folds
from emofx.locks import exclusive_output
from emofx.probes.classical import CLASSICAL
from emofx.probes.config import ProbeParams
from emofx.probes.fit import FittedProbe, LayerChoice, fit_probe, load_features
from emofx.probes.lineage import StageHashes, dvc_stage_hashes, embeddings_dataset
from emofx.probes.metrics import score_split, selection_metric
from emofx.probes.mlp import MlpConfig
from emofx.probes.registry import (
    REASON_TAG,
    Selection,
    deferred_champion_moves,
    log_model,
    register,
    registered_name,
)
from emofx.probes.sweep import best_layer, fixed_layer, plot_sweep, sweep_layers
from emofx.probes.tasks import (
    SPLITS,
    TaskData,
    build_dynamic_task,
    build_task,
    prediction_columns,
)
from emofx.probes.tune import study_name, tune_probe
from emofx.tracking import nested_run


@dataclass(frozen=True)
class EncoderContext:
    """What every run of one encoder shares."""

    dataset: str
    encoder: str
    store: EmbeddingStore
    tags: dict[str, str]  # lineage tags (DVC hashes) added to every run we open
    data_input: MetaDataset

    def layer_name(self, layer: LayerChoice) -> str:
        return "weighted" if layer == "weighted" else self.store.meta()["layer_names"][layer]


@exclusive_output("predictions_root", "probe", clear_on_error=True)
@deferred_champion_moves()  # champions move once every prediction is written
def run_probes(
    params: ProbeParams,
    manifest: pd.DataFrame,
    embeddings_root: Path,
    encoders: list[str],
    predictions_root: Path,
    seed: int,
    *,
    dataset: str = "dataset",
    metrics_path: Path | None = None,
    dvc_stage: str | None = None,
    dynamic_curves: pd.DataFrame | None = None,
    evaluation: EvaluationParams | None = None,
) -> dict[str, dict[str, float]]:
    """Fit every (encoder, probe, task), log to MLflow, write predictions (and DVC metrics).

    ``evaluation`` (default: the fixed split) resolves to ``split`` or ``cv`` from the manifest
    size; under ``cv`` every task, the dynamic one included, is fitted per fold
    (:mod:`emofx.probes.crossval`).

    ``dataset`` names registered models and Optuna studies; ``dvc_stage`` (e.g. ``"probe"``) adds
    the DVC stage hash and dependency hashes as lineage tags; ``metrics_path`` gets a JSON of all
    metrics ``{encoder: {probe: {task: {metric: value}}}}`` for ``dvc metrics`` / ``dvc exp show``.
    Returns ``{"<encoder>.<probe>": metrics}``.
    """
    from emofx.probes.crossval import run_cv_encoder  # it builds on this module

    hashes = dvc_stage_hashes(dvc_stage) if dvc_stage else None
    tags = hashes.tags() if hashes is not None else {}
    protocol = (evaluation or EvaluationParams(protocol="split")).resolve(len(manifest))
    folds = cv_folds(manifest, evaluation, seed) if evaluation and protocol == "cv" else None
    if mlflow.active_run() is not None:
        mlflow.set_tags(tags | {"emofx.evaluation.protocol": protocol})
    results: dict[str, dict[str, float]] = {}
    report: dict[str, Any] = {}
    for encoder in encoders:
        store = EmbeddingStore(embeddings_root / encoder)
        check_store(store)
        ctx = EncoderContext(
            dataset, encoder, store, tags, embeddings_dataset(store, f"{dataset}/{encoder}", hashes)
        )
        index = store.index()
        static = [t for t in params.tasks if t != "dynamic"]
        tasks = [
            with_groups(build_task(task, index, manifest, params.targets), index, manifest)
            for task in static
        ]
        out_dir = predictions_root / encoder
        if folds is None:
            by_probe = run_split_encoder(ctx, tasks, params, seed, out_dir)
        else:
            by_probe = run_cv_encoder(ctx, tasks, folds, params, seed, out_dir)
        for probe, by_task in by_probe.items():
            report.setdefault(encoder, {})[probe] = dict(by_task)
            results[f"{encoder}.{probe}"] = {k: v for m in by_task.values() for k, v in m.items()}
        if "dynamic" in params.tasks:
            dynamic = run_dynamic(
                ctx, hashes, dynamic_curves, params, seed, predictions_root, folds
            )
            for probe, metrics in dynamic.items():
                report.setdefault(encoder, {}).setdefault(probe, {})["dynamic"] = metrics
                results.setdefault(f"{encoder}.{probe}", {}).update(metrics)
    if metrics_path is not None:
        text = json.dumps(report, indent=2, sort_keys=True)
        atomic_write(Path(metrics_path), lambda tmp: tmp.write_text(text))
    return results


def run_split_encoder(
    ctx: EncoderContext, tasks: list[TaskData], params: ProbeParams, seed: int, out_dir: Path
) -> dict[str, dict[str, dict[str, float]]]:
    """Fit every (probe, task) on the manifest's split; write ``out_dir/<probe>/<condition>``
    predictions; returns ``{probe: {task: metrics}}``."""
    layers = choose_layers(ctx, tasks, params, seed, out_dir)
    index = ctx.store.index()
    report: dict[str, dict[str, dict[str, float]]] = {}
    for probe in params.probes:
        columns: dict[str, dict[str, np.ndarray]] = {c: {} for c in ctx.store.conditions()}
        report[probe] = {}
        for data in tasks:
            layer = layers[probe, data.task]
            fitted, report[probe][data.task] = fit_and_log(ctx, probe, data, layer, params, seed)
            for condition in columns:
                pred = fitted.predict(load_features(ctx.store, condition, layer))
                columns[condition] |= prediction_columns(data, pred)
        if tasks:
            write_predictions(index, columns, out_dir / probe)
    return report


def run_dynamic(
    ctx: EncoderContext,
    hashes: StageHashes | None,
    curves: pd.DataFrame | None,
    params: ProbeParams,
    seed: int,
    predictions_root: Path,
    folds: list[Fold] | None = None,
) -> dict[str, dict[str, float]]:
    """The ``dynamic`` task on the encoder's frame store: fit, score, predict every condition.

    Predictions go to ``<encoder>/<probe>/dynamic/<condition>.parquet``, one row per frame with
    its ``time_s`` and annotation (NaN where the frame has none); under cv (``folds``) each frame
    is predicted by the fold that held out its track, with a ``fold`` column (and ``repeat``).
    Returns metrics per probe.
    """
    if curves is None or curves.empty:
        raise ValueError(
            "probe task 'dynamic': the dataset has no dynamic annotations "
            "(remove 'dynamic' from probe.tasks)"
        )
    store = EmbeddingStore(ctx.store.root / "frames")
    if not (store.root / "meta.json").is_file():
        raise FileNotFoundError(
            f"probe task 'dynamic' needs frame embeddings in {store.root}: set "
            "embed.frames.enabled: true and run the embed stage"
        )
    check_store(store)
    frames_ctx = EncoderContext(
        ctx.dataset,
        ctx.encoder,
        store,
        ctx.tags,
        embeddings_dataset(store, f"{ctx.dataset}/{ctx.encoder}/frames", hashes),
    )
    index = store.index()
    data = build_dynamic_task(index, curves, params.targets, store.meta()["frames"]["hop_s"])
    out_root = predictions_root / ctx.encoder
    annotated = (
        index[["track_id", "time_s"]]
        .iloc[data.rows]
        .assign(**dict(zip(data.outputs, data.y.T, strict=True)))
    )
    if folds is None:
        fitted = fit_dynamic_split(frames_ctx, data, params, seed, out_root / "dynamic_layers")
        extra: list[dict[str, Any]] = [{}]
    else:
        from emofx.probes.crossval import out_of_fold_keys, run_cv_dynamic  # they build on this

        fitted = run_cv_dynamic(frames_ctx, data, folds, params, seed, out_root / "dynamic_layers")
        extra = out_of_fold_keys(folds, index["track_id"].astype(str).to_numpy())
    results = {}
    for probe, (metrics, predictions) in fitted.items():
        results[probe] = metrics
        for condition, per_repeat in predictions.items():
            frame = pd.concat(
                [
                    index[["track_id", "split", "time_s"]]
                    .assign(condition=condition, **keys)
                    .merge(annotated, on=["track_id", "time_s"], how="left", validate="1:1")
                    .assign(**columns)
                    for keys, columns in zip(extra, per_repeat, strict=True)
                ],
                ignore_index=True,
            )
            path = out_root / probe / "dynamic" / f"{condition}.parquet"
            atomic_write(path, lambda tmp, f=frame: f.to_parquet(tmp, index=False))
    return results


def fit_dynamic_split(
    ctx: EncoderContext, data: TaskData, params: ProbeParams, seed: int, layers_dir: Path
) -> dict[str, tuple[dict[str, float], dict[str, list[dict[str, np.ndarray]]]]]:
    """The ``dynamic`` task on the manifest's split: per probe its metrics and, per condition,
    the prediction columns of every frame row (one repeat)."""
    layers = choose_layers(ctx, [data], params, seed, layers_dir)
    out = {}
    for probe in params.probes:
        layer = layers[probe, "dynamic"]
        fitted, metrics = fit_and_log(ctx, probe, data, layer, params, seed)
        out[probe] = (
            metrics,
            {
                condition: [
                    prediction_columns(
                        data, fitted.predict(load_features(ctx.store, condition, layer))
                    )
                ]
                for condition in ctx.store.conditions()
            },
        )
    return out


def with_groups(data: TaskData, index: pd.DataFrame, manifest: pd.DataFrame) -> TaskData:
    """``data`` with each row's manifest ``group_id`` (song or artist; else its track) as groups.

    XGBoost's grid search keeps a group in one fold (EMOPIA: the clips of a song). The dynamic
    task keeps its own groups, the frames' track ids, which its per-song metrics need.
    """
    tracks = index["track_id"].astype(str).to_numpy()[data.rows]
    groups = pd.Series("track:" + tracks.astype(object), dtype=object)
    if "group_id" in manifest.columns:
        group_of = manifest.astype({"track_id": str}).set_index("track_id")["group_id"]
        groups = group_of.reindex(tracks).reset_index(drop=True).astype(object).fillna(groups)
    return replace(data, groups=groups.to_numpy(dtype=str))


def check_store(store: EmbeddingStore) -> None:
    if not (store.root / "meta.json").is_file():
        raise FileNotFoundError(f"no embedding store at {store.root} (run the embed stage first)")
    if "clean" not in store.conditions():
        raise ValueError(f"{store.root}: no 'clean' condition to fit probes on")


def mlp_layer_mode(params: ProbeParams) -> str:
    return MlpConfig.load(params.mlp).model["init_args"].get("layer_mode", "single")


def choose_layers(
    ctx: EncoderContext, tasks: list[TaskData], params: ProbeParams, seed: int, out_dir: Path
) -> dict[tuple[str, str], LayerChoice]:
    """Layer of every (probe, task): the MLP's mix, a fixed layer, or the best val sweep score."""
    n_layers = len(ctx.store.meta()["layer_names"])
    choice: dict[tuple[str, str], LayerChoice] = {}
    to_sweep = []
    for probe in params.probes:
        for data in tasks:
            if probe == "mlp" and mlp_layer_mode(params) == "weighted":
                choice[probe, data.task] = "weighted"
            elif params.layer != "best":
                choice[probe, data.task] = fixed_layer(ctx.store, params.layer)
            elif n_layers == 1:
                choice[probe, data.task] = 0
            else:
                to_sweep.append((probe, data))
    if not to_sweep:
        return choice
    with nested_run(f"{ctx.encoder}/layer_sweep", {**ctx.tags, "emofx.encoder": ctx.encoder}):
        sweeps = []
        for probe, data in to_sweep:
            sweep = sweep_layers(ctx.store, probe, data, params, seed)
            choice[probe, data.task] = best_layer(sweep)
            for row in sweep.itertuples():
                key = f"{row.metric}_{probe}_{data.task}"
                mlflow.log_metrics(
                    {f"val/{key}": row.val, f"train/{key}": row.train}, step=row.layer
                )
            mlflow.log_param(f"best_layer.{probe}.{data.task}", ctx.layer_name(best_layer(sweep)))
            sweeps.append(sweep)
        table = pd.concat(sweeps, ignore_index=True)
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(out_dir / "layer_sweep.csv", lambda tmp: table.to_csv(tmp, index=False))
        mlflow.log_artifact(str(out_dir / "layer_sweep.csv"))
        mlflow.log_artifact(str(plot_sweep(table, ctx.encoder, out_dir / "layer_sweep.png")))
    return choice


def tuning_fingerprint(
    ctx: EncoderContext,
    probe: str,
    data: TaskData,
    layer: LayerChoice,
    params: ProbeParams,
    seed: int,
) -> dict[str, Any]:
    """Everything an Optuna trial's outcome depends on (not the trial budget or the storage)."""
    probe_config: Any = params.xgboost.model_dump()
    if probe in CLASSICAL:
        probe_config = params.classical.model_dump()
    if probe == "mlp":
        config = MlpConfig.load(params.mlp)
        probe_config = {
            "model": config.model,
            "trainer": config.trainer,
            "batch": config.batch_size,
        }
    return {
        "store": ctx.store.meta().get("inputs_hash"),
        "rows": data.rows.tolist(),
        "y": data.y.tolist(),
        "split": data.split.tolist(),
        "layer": layer,
        "probe": probe_config,
        "pruning": params.tune.model_dump(include={"pruner", "n_startup_trials", "n_warmup_steps"}),
        "seed": seed,
    }


def run_tags(ctx: EncoderContext, probe: str, data: TaskData, layer: LayerChoice) -> dict:
    return {
        **ctx.tags,
        "emofx.encoder": ctx.encoder,
        "emofx.probe": probe,
        "emofx.task": data.task,
        "emofx.layer": ctx.layer_name(layer),
    }


def fit_and_log(
    ctx: EncoderContext,
    probe: str,
    data: TaskData,
    layer: LayerChoice,
    params: ProbeParams,
    seed: int,
) -> tuple[FittedProbe, dict[str, float]]:
    """(Tune,) fit and score one probe in its own run; log and register the model."""
    run_name = f"{ctx.encoder}/{probe}/{data.task}"
    with nested_run(run_name, run_tags(ctx, probe, data, layer)) as run:
        mlflow.log_input(ctx.data_input, context="train")
        fitted, metrics, x = fit_in_run(ctx, probe, data, layer, params, seed, run, run_name)
        if params.register_models:
            metric = f"val/{selection_metric(data)}"
            register_fitted(ctx, probe, fitted, data, x, Selection(
                metric, metrics[metric], "val", data.task, tuple(data.outputs),
                ctx.data_input.digest,
            ))  # fmt: skip
    return fitted, metrics


def fit_in_run(
    ctx: EncoderContext,
    probe: str,
    data: TaskData,
    layer: LayerChoice,
    params: ProbeParams,
    seed: int,
    run: mlflow.ActiveRun,
    run_name: str,
) -> tuple[FittedProbe, dict[str, float], np.ndarray]:
    """(Tune,) fit on ``data``'s train rows and score its splits, logging to the active ``run``
    (``run_name``: its name, the prefix of the tuning run).

    Returns the fitted probe, its metrics and the clean features of ``data.rows``. A split
    without rows (the final refit under cross-validation has no test rows) is not scored. With
    ``probe.mlp.seeds`` > 1 the MLP is refitted with the next seeds and the spread of its scores
    joins the metrics (:func:`seed_spread`).
    """
    x = load_features(ctx.store, "clean", layer)[data.rows]
    overrides: dict[str, Any] = {}
    if probe in params.tune.probes:
        tags = run_tags(ctx, probe, data, layer)
        with nested_run(f"{run_name}/tune", tags):
            name = registered_name(ctx.dataset, ctx.encoder, probe, data.task)
            study = study_name(name, tuning_fingerprint(ctx, probe, data, layer, params, seed))
            overrides = tune_probe(probe, data, x, params, seed, study, tags).best_params
    logger = None
    if probe == "mlp":
        logger = MLFlowLogger(tracking_uri=mlflow.get_tracking_uri(), run_id=run.info.run_id)
    fitted = fit_probe(probe, data, x, params, seed, overrides=overrides, logger=logger)
    metrics = score_splits(data, fitted, x)
    if probe == "mlp" and params.mlp.seeds > 1:
        others = [
            score_splits(data, fit_probe(probe, data, x, params, s, overrides=overrides), x)
            for s in range(seed + 1, seed + params.mlp.seeds)
        ]
        metrics |= seed_spread(data, [metrics, *others])
    mlflow.log_params(
        {
            "layer": ctx.layer_name(layer),
            **{f"n_{s}": int(data.mask(s).sum()) for s in SPLITS},
            "outputs": ",".join(data.outputs),
            **{f"tuned.{k}": v for k, v in overrides.items()},
            **fitted.hyperparams,
        }
    )
    # After the training curves the MLP's logger wrote: the final values are the latest.
    mlflow.log_metrics({**metrics, **fitted.info}, step=int(fitted.info.get("global_step", 0)))
    return fitted, metrics, x


def score_splits(data: TaskData, fitted: FittedProbe, x: np.ndarray) -> dict[str, float]:
    """Metrics of every split that has rows (the final refit under cv has no test rows)."""
    metrics: dict[str, float] = {}
    for split in SPLITS:
        if data.mask(split).any():
            metrics |= score_split(data, split, fitted.predict(x[data.mask(split)]))
    return metrics


def seed_spread(data: TaskData, runs: list[dict[str, float]]) -> dict[str, float]:
    """``seeds/<split>/<selection metric>_mean|_std|_min|_max`` over fits that differ only in
    their seed (``probe.mlp.seeds``); the first fit is the one kept and predicted with."""
    out = {}
    for split in SPLITS:
        key = f"{split}/{selection_metric(data)}"
        if key in runs[0]:
            values = np.array([r[key] for r in runs])
            out |= {
                f"seeds/{key}_mean": float(values.mean()),
                f"seeds/{key}_std": float(values.std(ddof=1)),
                f"seeds/{key}_min": float(values.min()),
                f"seeds/{key}_max": float(values.max()),
            }
    return out


def register_fitted(
    ctx: EncoderContext,
    probe: str,
    fitted: FittedProbe,
    data: TaskData,
    x: np.ndarray,
    selection: Selection,
) -> None:
    """Log the model to the active run, register it and record whether it became champion."""
    name = registered_name(ctx.dataset, ctx.encoder, probe, data.task)
    uri = log_model(probe, fitted.model, x[data.mask("train")][:2])
    version, reason = register(uri, name, selection)
    mlflow.set_tags(
        {
            "emofx.registered_model": name,
            "emofx.model_version": str(version.version),
            "emofx.champion": str(reason is not None).lower(),
            **({REASON_TAG: reason} if reason is not None else {}),
        }
    )


def write_predictions(
    index: pd.DataFrame, columns: dict[str, dict[str, np.ndarray]], out_dir: Path
) -> None:
    """One parquet per condition: ``track_id, split, condition`` + the prediction columns."""
    for condition, cols in columns.items():
        frame = index[["track_id", "split"]].assign(condition=condition, **cols)
        atomic_write(
            out_dir / f"{condition}.parquet", lambda tmp, f=frame: f.to_parquet(tmp, index=False)
        )
