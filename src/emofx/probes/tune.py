"""Optuna tuning of the probes on val, every trial a nested MLflow run.

The study minimises the val loss the probe early-stops on (MLP: the task loss; XGBoost: rmse /
mlogloss / logloss), so the pruner compares like with like: the Lightning and XGBoost pruning
callbacks report that loss per epoch / boosting round. Classical probes minimise val MSE (log loss
for quadrants) over one knob each (regularisation strength or number of trees), unpruned: they
fit in one step. TPE is seeded; ``n_trials`` counts finished
trials of the whole study, so several workers sharing one storage (an RDB URL) stop together and a
rerun of a finished study reuses its best trial instead of adding more.

Studies are named ``emofx-<dataset>-<encoder>-<probe>[-<task>]@<fingerprint>``: the fingerprint
covers what the trials depend on (data, layer, search settings, seed), so changed inputs start a
fresh study rather than mixing in stale trials.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState
from optuna_integration import PyTorchLightningPruningCallback, XGBoostPruningCallback

from emofx.probes.config import ProbeParams, TuneParams
from emofx.probes.fit import fit_probe
from emofx.probes.gbt import EVAL_METRIC
from emofx.probes.tasks import TaskData
from emofx.tracking import nested_run, stable_hash

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
#: classical probe → (its ClassicalParams knob, low, high), searched on a log scale
CLASSICAL_SPACES: dict[str, tuple[str, float, float]] = {
    "ridge": ("ridge_alpha", 1e-3, 1e3),
    "lasso": ("lasso_alpha", 1e-4, 1.0),
    "svr": ("svr_c", 1e-2, 1e2),
    "random_forest": ("random_forest_trees", 50, 800),
    "gradient_boosting": ("gradient_boosting_trees", 50, 800),
}


def suggest(trial: optuna.Trial, probe: str) -> dict[str, Any]:
    """The search space of ``probe`` (keys are the probe's hyperparameter names)."""
    if probe == "mlp":
        return {
            "preset": trial.suggest_categorical("preset", ["emotion_mlp", "marble"]),
            "lr": trial.suggest_float("lr", 1e-4, 3e-2, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        }
    if probe == "xgboost":
        return {
            "max_depth": trial.suggest_int("max_depth", 2, 8),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.2, 1.0),
            "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 10.0, log=True),
        }
    if probe in CLASSICAL_SPACES:
        name, low, high = CLASSICAL_SPACES[probe]
        if name.endswith("_trees"):
            return {name: trial.suggest_int(name, low, high, log=True)}
        return {name: trial.suggest_float(name, low, high, log=True)}
    raise ValueError(f"probe {probe!r} has no search space")


def pruning_callbacks(trial: optuna.Trial, probe: str, data: TaskData) -> list:
    """Per-epoch / per-round pruning; a classical probe fits in one step (nothing to prune)."""
    if probe == "mlp":
        return [PyTorchLightningPruningCallback(trial, monitor="val/loss")]
    if probe == "xgboost":
        return [XGBoostPruningCallback(trial, f"validation_0-{EVAL_METRIC[data.task]}")]
    return []


def make_pruner(params: TuneParams) -> optuna.pruners.BasePruner:
    if params.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=params.n_startup_trials, n_warmup_steps=params.n_warmup_steps
        )
    if params.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, params.n_warmup_steps))
    return optuna.pruners.NopPruner()


def open_storage(spec: str) -> str | JournalStorage:
    """An RDB URL (``sqlite:///…``, ``postgresql://…``) as is; a path → a journal file."""
    if "://" in spec:
        return spec
    path = Path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def study_name(qualified: str, fingerprint: dict[str, Any]) -> str:
    return f"{qualified}@{stable_hash(fingerprint)[:8]}"


@dataclass(frozen=True)
class TuneResult:
    study: str
    best_params: dict[str, Any]
    best_value: float
    n_complete: int
    n_pruned: int


def tune_probe(
    probe: str,
    data: TaskData,
    x: np.ndarray,
    params: ProbeParams,
    seed: int,
    name: str,
    tags: dict[str, str] | None = None,
) -> TuneResult:
    """Run study ``name`` under the active MLflow run, then log its best params and value there."""
    return log_best(optimize(probe, data, x, params, seed, name, tags))


def optimize(
    probe: str,
    data: TaskData,
    x: np.ndarray,
    params: ProbeParams,
    seed: int,
    name: str,
    tags: dict[str, str] | None = None,
    *,
    parent_run_id: str | None = None,
) -> optuna.Study:
    """Run (or resume, or reuse) study ``name``; trials are children of the active MLflow run.

    Several processes may call this with one RDB storage: together they finish ``n_trials``;
    a worker process passes ``parent_run_id`` (the tuning run) to nest its trials under it.
    """
    if parent_run_id is not None:
        with mlflow.start_run(run_id=parent_run_id):
            return optimize(probe, data, x, params, seed, name, tags)
    tune = params.tune
    study = optuna.create_study(
        study_name=name,
        storage=open_storage(tune.storage),
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=make_pruner(tune),
    )

    def objective(trial: optuna.Trial) -> float:
        overrides = suggest(trial, probe)
        trial.set_user_attr("worker_pid", os.getpid())
        trial_tags = {**(tags or {}), "optuna.study": name, "optuna.trial": str(trial.number)}
        with nested_run(f"trial-{trial.number:03d}", trial_tags):
            mlflow.log_params(overrides)
            try:
                fitted = fit_probe(
                    probe,
                    data,
                    x,
                    params,
                    seed,
                    overrides=overrides,
                    callbacks=pruning_callbacks(trial, probe, data),
                )
            except optuna.TrialPruned:
                mlflow.set_tag("optuna.state", "PRUNED")
                pruned = True
            else:
                pruned = False
                mlflow.set_tag("optuna.state", "COMPLETE")
                mlflow.log_metric("val/loss", fitted.info["val/loss"])
        if pruned:
            raise optuna.TrialPruned()
        return fitted.info["val/loss"]

    remaining = tune.n_trials - len(study.get_trials(deepcopy=False, states=FINISHED))
    if remaining > 0:
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=tune.timeout_s,
            callbacks=[MaxTrialsCallback(tune.n_trials, states=FINISHED)],
        )
    return study


def log_best(study: optuna.Study) -> TuneResult:
    """Best params (``best.<name>``) and value of a study, logged on the active MLflow run."""
    name = study.study_name
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"optuna study {name!r}: no trial completed (all pruned or failed)")
    result = TuneResult(
        name,
        study.best_params,
        float(study.best_value),
        len(complete),
        sum(t.state == TrialState.PRUNED for t in trials),
    )
    mlflow.set_tag("optuna.study", name)
    mlflow.log_params({f"best.{k}": v for k, v in result.best_params.items()})
    mlflow.log_metrics(
        {
            "best_val_loss": result.best_value,
            "n_trials_complete": result.n_complete,
            "n_trials_pruned": result.n_pruned,
        }
    )
    return result
