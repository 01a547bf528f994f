"""The analyze stage in MLflow: experiment kind, nested evaluation runs, figures logged once."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from emofx.analysis.config import AnalysisParams
from emofx.analysis.run import log_to_mlflow
from emofx.analysis.summary import flat_numbers
from emofx.tracking import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG, configure, experiment_id
from tests.analysis_stores import analyse, write_stores

PARAMS = AnalysisParams(n_bootstrap=100, projection={"method": "tsne", "max_tracks": 8})
CONDITIONS = ["clean", "reverb@3", "reverb@8", "gain@8", "gain@8+lufs"]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow_analysis")
    paths = write_stores(
        root, n_tracks=40, effects={"reverb": [3, 8], "gain": [8]}, chains=(),
        encoders={"enc_a": [("head", 6)]},
    )  # fmt: skip
    result = analyse(paths, root / "reports", PARAMS, 1, ["enc_a"])
    return root / "reports", result


@pytest.fixture
def logged_twice(analysed, mlflow_uri, tmp_path, monkeypatch):
    """Two analyze runs of the same outputs in a fresh store: (client, experiment, run ids)."""
    monkeypatch.chdir(tmp_path)
    previous = mlflow.get_tracking_uri()
    configure(mlflow_uri)
    try:
        exp = experiment_id("syn", str(tmp_path / "artifacts"))
        probe_tags = {"emofx.stage": "probe", "emofx.encoder": "enc_a", "emofx.probe": "ridge",
                      "emofx.task": "regression", "emofx.layer": "head"}  # fmt: skip
        with mlflow.start_run(experiment_id=exp, run_name="probe run", tags=probe_tags):
            pass  # what the probe stage leaves: the layer each probe was fitted on
        ids = []
        for _ in range(2):
            with mlflow.start_run(experiment_id=exp, run_name="analyze") as run:
                log_to_mlflow(analysed[1])
            ids.append(run.info.run_id)
    finally:
        mlflow.set_tracking_uri(previous)
    return MlflowClient(mlflow_uri), exp, ids


def test_the_experiment_opens_on_model_development_runs(mlflow_uri, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    previous = mlflow.get_tracking_uri()
    configure(mlflow_uri)
    try:
        new = experiment_id("fresh", str(tmp_path / "a"))
        old = mlflow.create_experiment("emofx-old")  # made by an emofx without the tag
        assert experiment_id("old", str(tmp_path / "a")) == old
    finally:
        mlflow.set_tracking_uri(previous)
    client = MlflowClient(mlflow_uri)
    for exp in (new, old):
        assert client.get_experiment(exp).tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
    assert EXPERIMENT_KIND == "custom_model_development"


def test_one_evaluation_run_per_encoder_probe_task_condition(analysed, logged_twice):
    out, result = analysed
    client, exp, (parent, _) = logged_twice
    children = client.search_runs(
        [exp], filter_string=f"tags.mlflow.parentRunId = '{parent}'", max_results=1000
    )
    names = sorted(r.info.run_name for r in children)
    assert names == sorted(f"enc_a/ridge/regression/{c}" for c in CONDITIONS)
    reverb = client.search_runs(
        [exp],
        filter_string=f"params.`fx.effect` = 'reverb' and tags.mlflow.parentRunId = '{parent}'",
    )
    assert sorted(r.data.params["fx.level"] for r in reverb) == ["3", "8"]
    run = next(r for r in reverb if r.data.params["fx.level"] == "8")
    assert run.data.params.items() >= {
        "fx.effect": "reverb", "fx.chain": "none", "fx.loudness_matched": "false",
        "encoder": "enc_a", "probe": "ridge", "task": "regression", "layer": "head",
    }.items()  # fmt: skip
    performance = pd.read_csv(out / "tables" / "performance.csv").set_index(
        ["encoder", "probe", "condition", "metric"]
    )
    shifts = pd.read_csv(out / "tables" / "shifts.csv").set_index(
        ["encoder", "probe", "condition", "quantity"]
    )
    row = performance.loc[("enc_a", "ridge", "reverb@8", "r2_arousal")]
    metrics = run.data.metrics
    assert metrics["test/r2_arousal"] == pytest.approx(row["value"])
    assert metrics["test/delta_r2_arousal"] == pytest.approx(row["delta"])
    shift = shifts.loc[("enc_a", "ridge", "reverb@8", "arousal")]
    assert metrics["test/shift_arousal"] == pytest.approx(shift["shift"])
    assert shift["shift"] < 0  # reverb lowers arousal
    assert metrics["test/shift_arousal_q"] == pytest.approx(shift["q_value"])
    matched = client.search_runs(
        [exp],
        filter_string=f"params.`fx.loudness_matched` = 'true' and tags.mlflow.parentRunId = "
        f"'{parent}'",
    )
    assert [r.data.params["fx.condition"] for r in matched] == ["gain@8+lufs"]
    # the analyze run itself keeps the headline numbers only
    headline = client.get_run(parent).data.metrics
    assert set(headline) == set(flat_numbers(result["metrics"])) and len(headline) <= 100


def test_figures_are_logged_once_per_content(logged_twice):
    client, _, (first, second) = logged_twice
    figures = {a.path for a in client.list_artifacts(first, "figures")}
    assert "figures/headline_shifts.png" in figures and "figures/headline_shifts.html" in figures
    assert {a.path for a in client.list_artifacts(first, "assets")} == {"assets/plotly.min.js"}
    assert client.list_artifacts(second, "figures") == []
    assert {a.path for a in client.list_artifacts(second)} >= {"index.html", "metrics.json"}
    tag = "emofx.artifact.figures/headline_shifts.png"
    one, two = (client.get_run(r).data.tags for r in (first, second))
    assert one[tag] == two[tag] and len(one[tag]) == 12
