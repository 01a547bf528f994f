"""MLflow run hierarchy and lineage tags on a real sqlite store."""

from __future__ import annotations

import mlflow
from mlflow.tracking import MlflowClient

from emofx.tracking import flatten, nested_run, stable_hash, stage_run


def test_stage_run_nests_children_and_tags_lineage(mlflow_uri, tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_EXP_NAME", "brisk-otter")
    params = {"probe": {"lr": 0.1, "hidden": [512, 128]}}
    with stage_run(
        "probe", "synth", params, data_hashes={"raw": "abc123"}, artifact_root=str(tmp_path / "art")
    ) as parent:
        with nested_run("handcrafted/xgboost", {"emofx.encoder": "handcrafted"}):
            mlflow.log_metric("test/r2_arousal", 0.5)
    client = MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("emofx-synth")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 2
    child = next(r for r in runs if r.info.run_id != parent.info.run_id)
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.data.metrics["test/r2_arousal"] == 0.5
    for run in runs:  # lineage tags inherited by the child
        assert run.data.tags["emofx.params_hash"] == stable_hash(params)
        assert run.data.tags["emofx.data_hash.raw"] == "abc123"
        assert run.data.tags["dvc.exp_name"] == "brisk-otter"
        assert run.data.tags["emofx.stage"] == "probe"
    parent_run = client.get_run(parent.info.run_id)
    assert parent_run.data.params["probe.lr"] == "0.1"


def test_stable_hash_ignores_key_order_but_not_values():
    assert stable_hash({"a": 1, "b": 2}) == stable_hash({"b": 2, "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


def test_flatten_nested_params():
    assert flatten({"a": {"b": 1, "c": {"d": "x"}}, "e": []}) == {
        "a.b": "1",
        "a.c.d": "x",
        "e": "[]",
    }
