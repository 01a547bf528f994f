"""The probe stage against a real ``mlflow server`` on 127.0.0.1: run tree, metrics, registry."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from emofx.probes.config import ProbeParams
from emofx.probes.registry import CHAMPION
from emofx.probes.run import run_probes
from emofx.tracking import stage_run
from tests.mlflow_server import mlflow_server  # noqa: F401 - the fixture
from tests.probe_data import write_store

pytestmark = pytest.mark.slow


def test_probe_stage_against_a_tracking_server(tmp_path, mlflow_server):  # noqa: F811
    _, manifest = write_store(tmp_path / "emb")
    raw = {
        "probes": ["xgboost", "mlp"],
        "xgboost": {"n_estimators": 40, "n_jobs": 1},
        "mlp": {"max_epochs": 20},
        "tune": {"probes": ["xgboost"], "n_trials": 3, "storage": str(tmp_path / "optuna.log")},
    }
    params = ProbeParams.model_validate(raw)
    with stage_run("probe", "tiny", {"probe": raw}) as parent:
        results = run_probes(
            params, manifest, tmp_path / "emb", ["tiny"], tmp_path / "pred", 0, dataset="tiny"
        )
    assert mlflow.get_tracking_uri() == mlflow_server
    client = MlflowClient(mlflow_server)
    runs = {r.info.run_name: r for r in client.search_runs([parent.info.experiment_id])}
    parent_of = {name: r.data.tags.get("mlflow.parentRunId") for name, r in runs.items()}
    ids = {name: r.info.run_id for name, r in runs.items()}
    assert parent_of["tiny/layer_sweep"] == ids["probe"]
    assert parent_of["tiny/xgboost/regression"] == ids["probe"]
    assert parent_of["tiny/mlp/regression"] == ids["probe"]
    assert parent_of["tiny/xgboost/regression/tune"] == ids["tiny/xgboost/regression"]
    for trial in ("trial-000", "trial-001", "trial-002"):
        assert parent_of[trial] == ids["tiny/xgboost/regression/tune"]
    for run in runs.values():
        assert run.info.status == "FINISHED"
        assert run.data.tags["emofx.params_hash"] == parent.data.tags["emofx.params_hash"]
        assert run.data.tags["mlflow.source.git.commit"]
    fit = runs["tiny/xgboost/regression"]
    for key in ("train/r2_valence", "val/r2_arousal", "test/r2_mean", "best_iteration"):
        assert key in fit.data.metrics
    assert fit.data.metrics["test/r2_mean"] == pytest.approx(
        results["tiny.xgboost"]["test/r2_mean"]
    )
    assert fit.data.params["layer"] == "mid"
    assert float(runs["tiny/xgboost/regression/tune"].data.metrics["n_trials_complete"]) >= 1
    assert fit.inputs.dataset_inputs[0].dataset.digest == "tiny-0-72"
    for probe in ("xgboost", "mlp"):
        name = f"emofx-tiny-tiny-{probe}"
        champion = client.get_model_version_by_alias(name, CHAMPION)
        assert champion.run_id == ids[f"tiny/{probe}/regression"]
        assert float(champion.tags["emofx.val_score"]) == pytest.approx(
            results[f"tiny.{probe}"]["val/r2_mean"]
        )
    model = mlflow.pyfunc.load_model(f"models:/emofx-tiny-tiny-xgboost@{CHAMPION}")
    assert model.metadata.flavors.keys() >= {"xgboost", "python_function"}
