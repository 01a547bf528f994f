"""Optuna tuning: pruning through the XGBoost / Lightning callbacks, MLflow trial runs, workers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState
from sklearn.linear_model import Ridge
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from emofx.embed.store import EmbeddingStore
from emofx.probes.config import ProbeParams
from emofx.probes.fit import fit_probe, load_features
from emofx.probes.tasks import build_task
from emofx.probes.tune import open_storage, optimize, tune_probe
from emofx.tracking import stage_run
from tests.probe_data import write_store

REPO = Path(__file__).resolve().parents[1]
TARGETS = ["valence_norm", "arousal_norm"]


def tune_params(probe: str, storage: str, n_trials: int = 3) -> ProbeParams:
    return ProbeParams.model_validate(
        {
            "probes": [probe],
            "xgboost": {"n_estimators": 60, "n_jobs": 1},
            "mlp": {"max_epochs": 25},
            "tune": {
                "probes": [probe],
                "n_trials": n_trials,
                "storage": storage,
                "pruner": "median",
                "n_startup_trials": 1,
                "n_warmup_steps": 2,
            },
        }
    )


@pytest.fixture()
def regression(tmp_path):
    root, manifest = write_store(tmp_path / "emb")
    store = EmbeddingStore(root)
    data = build_task("regression", store.index(), manifest, TARGETS)
    return data, load_features(store, "clean", 1)[data.rows]


@pytest.mark.parametrize("probe", ["xgboost", "mlp"])
def test_three_trial_study_prunes_and_nests_trials_in_mlflow(
    probe, regression, tmp_path, mlflow_uri
):
    data, x = regression
    params = tune_params(probe, str(tmp_path / "optuna" / "journal.log"))
    with stage_run("probe", "tiny", {}, artifact_root=str(tmp_path / "art")):
        with mlflow.start_run(run_name="tune", nested=True) as parent:
            result = tune_probe(probe, data, x, params, 0, f"emofx-tiny-tiny-{probe}@x")
    study = optuna.load_study(study_name=result.study, storage=open_storage(params.tune.storage))
    states = [t.state for t in study.trials]
    assert len(states) == 3 and TrialState.PRUNED in states and TrialState.COMPLETE in states
    assert all(t.intermediate_values for t in study.trials)  # the callback reported every step
    assert result.best_value == study.best_value and result.n_pruned == states.count(
        TrialState.PRUNED
    )
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert sorted(r.info.run_name for r in runs) == ["trial-000", "trial-001", "trial-002"]
    by_state = {r.data.tags["optuna.trial"]: r.data.tags["optuna.state"] for r in runs}
    assert by_state == {str(t.number): t.state.name for t in study.trials}
    logged = client.get_run(parent.info.run_id).data
    assert logged.metrics["best_val_loss"] == pytest.approx(study.best_value)
    assert {f"best.{k}" for k in study.best_params} <= set(logged.params)


def test_ridge_search_finds_the_alpha_with_the_lowest_val_error(regression, tmp_path):
    data, x = regression
    params = tune_params("ridge", str(tmp_path / "journal.log"), n_trials=12)
    study = optimize("ridge", data, x, params, 0, "ridge@1")
    tr, va = data.mask("train"), data.mask("val")

    def val_mse(alpha: float) -> float:
        model = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(x[tr], data.y[tr])
        return float(np.mean((model.predict(x[va]) - data.y[va]) ** 2))

    # the objective is the val error of the trial's alpha, and 12 TPE trials get within 5 % of
    # the best alpha of a dense grid over the same range
    assert study.best_value == pytest.approx(val_mse(study.best_params["ridge_alpha"]))
    assert study.best_value <= 1.05 * min(val_mse(a) for a in np.logspace(-3, 3, 61))


def test_classical_quadrant_objective_is_the_val_log_loss(tmp_path):
    root, manifest = write_store(tmp_path / "emb")
    store = EmbeddingStore(root)
    data = build_task("quadrant", store.index(), manifest, TARGETS)
    x = load_features(store, "clean", 1)[data.rows]
    params = tune_params("random_forest", str(tmp_path / "journal.log"), n_trials=2)
    study = optimize("random_forest", data, x, params, 0, "rf@1")
    trees = study.best_params["random_forest_trees"]
    assert 50 <= trees <= 800
    fitted = fit_probe(
        "random_forest", data, x, params, 0, overrides={"random_forest_trees": trees}
    )
    va = data.mask("val")
    expected = log_loss(data.y[va], fitted.predict(x[va]), labels=range(4))
    assert study.best_value == pytest.approx(expected)


def test_finished_study_is_reused_not_extended(regression, tmp_path, mlflow_uri):
    data, x = regression
    params = tune_params("xgboost", str(tmp_path / "journal.log"), n_trials=2)
    first = optimize("xgboost", data, x, params, 0, "s@1")
    again = optimize("xgboost", data, x, params, 0, "s@1")
    assert len(again.trials) == 2 and again.best_params == first.best_params


WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from emofx.embed.store import EmbeddingStore
    from emofx.probes.fit import load_features
    from emofx.probes.tasks import build_task
    from emofx.probes.tune import optimize
    from tests.probe_data import write_store
    from tests.test_probes_tune import TARGETS, tune_params

    root, manifest = write_store(Path(sys.argv[1]))
    store = EmbeddingStore(root)
    data = build_task("regression", store.index(), manifest, TARGETS)
    x = load_features(store, "clean", 1)[data.rows]
    params = tune_params("xgboost", sys.argv[2], n_trials=6)
    optimize("xgboost", data, x, params, 0, "shared", parent_run_id=sys.argv[3])
    """
)


@pytest.mark.slow
def test_two_worker_processes_finish_one_rdb_study(tmp_path, mlflow_uri):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.create_study(study_name="shared", storage=storage, direction="minimize")  # schema once
    with stage_run("probe", "tiny", {}, artifact_root=str(tmp_path / "art")):
        with mlflow.start_run(run_name="tune", nested=True) as parent:
            pass  # the workers resume it
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path / f"w{i}"), storage, parent.info.run_id],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]
    for proc in workers:
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, out.decode()[-3000:]
    trials = optuna.load_study(study_name="shared", storage=storage).trials
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert 6 <= len(finished) <= 7  # each worker may finish the trial it had started
    assert len({t.user_attrs["worker_pid"] for t in finished}) == 2
    runs = MlflowClient(mlflow_uri).search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert sorted(int(r.data.tags["optuna.trial"]) for r in runs) == [t.number for t in trials]
