"""Optuna tuning of the probes on val, every trial a nested MLflow run.

The study minimises the val loss the probe early-stops on (MLP: the task loss; XGBoost: rmse /
mlogloss / logloss), so the pruner compares like with like: the Lightning and XGBoost pruning
callbacks report that loss per epoch / boosting round. Classical probes minimise val MSE (log loss
for quadrants) over one knob each (regularisation strength or number of trees), unpruned: they
fit in one step. TPE is seeded; ``n_trials`` counts finished
trials of the whole study, so several workers sharing one storage (an RDB URL) stop together and a
rerun of a finished study reuses its best trial instead of adding more.

Team scale (docs/team.md): with an RDB storage (PostgreSQL) each running trial sends a heartbeat;
a trial whose worker died is failed after a grace period and re-queued with the same parameters
(Optuna's RetryHeartbeatStaleTrialCallback), and a worker only starts trial *k* while fewer than
``n_trials`` trials numbered below *k* are pending or finished, so N workers finish exactly
``n_trials``. The process that opens the study (the probe stage) publishes the trial inputs as
artifacts of its MLflow tuning run and that run's id as a study attribute; ``emofx tune --worker``
reads them to join the study from another process or machine, nesting its trials under that run.

Studies are named ``emofx-<dataset>-<encoder>-<probe>[-<task>]@<fingerprint>``: the fingerprint
covers what the trials depend on (data, layer, search settings, seed), so changed inputs start a
fresh study rather than mixing in stale trials.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import optuna
from optuna.storages import (
    BaseStorage,
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
    fail_stale_trials,
)
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState
from optuna_integration import PyTorchLightningPruningCallback, XGBoostPruningCallback

from emofx.probes.config import ProbeParams, TuneParams
from emofx.probes.fit import fit_probe
from emofx.probes.gbt import EVAL_METRIC
from emofx.probes.tasks import TaskData
from emofx.tracking import nested_run, stable_hash

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
PARENT_RUN_ATTR = "emofx.mlflow_parent_run_id"
N_TRIALS_ATTR = "emofx.n_trials"
CLOSED_ATTR = "emofx.closed"  # the leader is done (e.g. its timeout_s ran out): workers stay away
INPUTS_ARTIFACT = "tuning"  # the tuning run's folder of what a worker needs (publish)
#: how often a waiting worker looks at the study again (others' trials running, none free)
POLL_S = 0.2
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


def open_storage(spec: str, heartbeat_s: int = 10) -> BaseStorage:
    """An RDB URL (``sqlite:///…``, ``postgresql+psycopg://…``) with trial heartbeats every
    ``heartbeat_s`` (a trial silent for 3 × that is failed and re-queued once); a path → a journal
    file (no heartbeat: one machine)."""
    if "://" in spec:
        with warnings.catch_warnings():  # heartbeats are "experimental" since optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(
                spec,
                heartbeat_interval=heartbeat_s,
                grace_period=3 * heartbeat_s,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
            )
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

    Several processes may call this with one RDB storage: together they finish ``n_trials``.
    Without ``parent_run_id`` this process leads: with an RDB storage and an active run it
    publishes the study for workers (:func:`publish`). A worker passes ``parent_run_id`` (the
    leader's tuning run) to nest its trials under it.
    """
    study = open_study(name, params, seed)
    leads = parent_run_id is None and "://" in params.tune.storage and bool(mlflow.active_run())
    if leads and len(study.get_trials(deepcopy=False, states=FINISHED)) < params.tune.n_trials:
        publish(study, probe, data, x, params, seed, tags)

    def objective(trial: optuna.Trial) -> float:
        overrides = suggest(trial, probe)
        trial.set_user_attr("worker_pid", os.getpid())
        trial_tags = {**(tags or {}), "optuna.study": name, "optuna.trial": str(trial.number)}
        with trial_run(f"trial-{trial.number:03d}", trial_tags, parent_run_id):
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

    work(study, objective, params.tune.n_trials, params.tune.timeout_s)
    if leads:
        study.set_user_attr(CLOSED_ATTR, True)
    return study


@contextmanager
def trial_run(name: str, tags: dict[str, str], parent_run_id: str | None) -> Iterator[None]:
    """A trial's MLflow run: a child of the active run, or of ``parent_run_id`` (a worker, whose
    process has no active run: the parent stays the leader's, open, with its lineage tags)."""
    if parent_run_id is None:
        with nested_run(name, tags):
            yield
        return
    parent = mlflow.MlflowClient().get_run(parent_run_id)
    inherited = {k: v for k, v in parent.data.tags.items() if k.startswith(("emofx.", "dvc."))}
    with mlflow.start_run(
        run_name=name,
        parent_run_id=parent_run_id,
        experiment_id=parent.info.experiment_id,
        tags={**inherited, **tags},
    ):
        yield


def publish(
    study: optuna.Study,
    probe: str,
    data: TaskData,
    x: np.ndarray,
    params: ProbeParams,
    seed: int,
    tags: dict[str, str] | None,
) -> None:
    """Make ``study`` joinable: its inputs as artifacts of the active (tuning) run, then the run
    id and the trial budget as study attributes (which ``emofx tune --worker`` looks for)."""
    run = mlflow.active_run()
    spec = {
        "probe": probe,
        "seed": seed,
        "task": data.task,
        "outputs": data.outputs,
        "tags": tags or {},
        # the storage URL may hold a password, and a worker names its own
        "params": params.model_dump(mode="json")
        | {"tune": params.tune.model_dump(exclude={"storage"})},
    }
    arrays = {"x": x, "rows": data.rows, "y": data.y, "split": data.split.astype(str)}
    if data.groups is not None:  # str, not object arrays: np.load without pickles
        arrays["groups"] = data.groups.astype(str)
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "inputs.npz", **arrays)
        (Path(tmp) / "spec.json").write_text(json.dumps(spec, indent=1, default=str))
        mlflow.log_artifacts(tmp, INPUTS_ARTIFACT)
    study.set_user_attr(N_TRIALS_ATTR, params.tune.n_trials)
    study.set_user_attr(CLOSED_ATTR, False)
    study.set_user_attr(PARENT_RUN_ATTR, run.info.run_id)


def open_study(name: str, params: ProbeParams, seed: int) -> optuna.Study:
    """Create or load study ``name`` in ``params.tune.storage`` (seeded TPE, the pruner)."""
    tune = params.tune
    return optuna.create_study(
        study_name=name,
        storage=open_storage(tune.storage, tune.heartbeat_s),
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=make_pruner(tune),
    )


def work(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    n_trials: int,
    timeout_s: float | None = None,
) -> None:
    """Run trials of ``study`` until ``n_trials`` are finished (by this or any other process).

    Returns early on ``timeout_s``. With heartbeats it also waits for trials that other workers
    are running: one of them may die, and its trial is then re-queued and run here. Without
    (a journal file) a trial left running by a killed process is not waited for.
    """
    storage = study._storage  # optuna wraps the RDBStorage in a cache: ask it, not isinstance
    every_s = getattr(storage, "get_heartbeat_interval", lambda: None)()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    with warnings.catch_warnings():  # heartbeats "experimental", and meant for study.optimize
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to be used")
        while deadline is None or time.monotonic() < deadline:
            fail_stale_trials(study)  # dead workers' trials → FAIL, and re-queued
            trials = study.get_trials(deepcopy=False)
            finished = sum(t.state in FINISHED for t in trials)
            running = sum(t.state == TrialState.RUNNING for t in trials)
            if finished >= n_trials or (every_s is None and finished + running >= n_trials):
                return
            if finished + running >= n_trials:  # every slot is taken: wait, one may die
                time.sleep(POLL_S)
                continue
            trial = study.ask()
            if every_s is not None:  # from now on a killed worker's trial is found stale
                storage.record_heartbeat(trial._trial_id)
            if not has_slot(study, trial.number, n_trials):  # another worker asked just now
                storage.set_trial_state_values(trial._trial_id, state=TrialState.WAITING)
                time.sleep(POLL_S)
                continue
            run_trial(study, trial, objective, every_s)


def has_slot(study: optuna.Study, number: int, n_trials: int) -> bool:
    """Trial ``number`` may run: fewer than ``n_trials`` earlier trials are pending or finished.

    Trial numbers are assigned atomically by the storage, so two workers that ask at the same
    moment agree on which of their trials is the surplus one.
    """
    earlier = [t for t in study.get_trials(deepcopy=False) if t.number < number]
    return sum(t.state != TrialState.FAIL for t in earlier) < n_trials


def run_trial(
    study: optuna.Study,
    trial: optuna.Trial,
    objective: Callable[[optuna.Trial], float],
    heartbeat_s: int | None,
) -> FrozenTrial:
    """One trial with a heartbeat, told to the study as COMPLETE, PRUNED or FAIL (re-raised).

    A trial another worker found stale (this process stalled past the grace period) is FAIL and
    re-queued already: its result is then dropped, not an error.
    """
    with heartbeat(study._storage, trial._trial_id, heartbeat_s):
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            return study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
        except BaseException:
            study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            raise
    return study.tell(trial, value, skip_if_finished=True)


@contextmanager
def heartbeat(storage: BaseStorage, trial_id: int, every_s: int | None) -> Iterator[None]:
    """Record the trial's heartbeat every ``every_s`` seconds in a thread while the body runs."""
    if every_s is None:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            storage.record_heartbeat(trial_id)
            if stop.wait(every_s):
                return

    thread = threading.Thread(target=beat, daemon=True, name=f"optuna-heartbeat-{trial_id}")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


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
