"""The probe stage end to end on sqlite MLflow: layer sweep, predictions, registry, lineage."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from emofx.embed.store import EmbeddingStore
from emofx.probes.classical import AUTO_GRIDS
from emofx.probes.config import ProbeParams
from emofx.probes.lineage import dvc_stage_hashes
from emofx.probes.registry import CHAMPION, REASON_TAG
from emofx.probes.run import run_probes
from emofx.tracking import stage_run
from tests.probe_data import LABELS, write_store

FAST = {"xgboost": {"n_estimators": 40, "n_jobs": 1}, "mlp": {"max_epochs": 25}}


def run_stage(tmp_path, manifest, seed=0, **raw):
    params = ProbeParams.model_validate({**FAST, **raw})
    with stage_run("probe", "tiny", {"probe": raw}, artifact_root=str(tmp_path / "art")) as run:
        results = run_probes(
            params,
            manifest,
            tmp_path / "emb",
            ["tiny"],
            tmp_path / "pred",
            seed,
            dataset="tiny",
            metrics_path=tmp_path / "probe_metrics.json",
        )
    return results, run


@pytest.fixture()
def tiny(tmp_path):
    return write_store(tmp_path / "emb")[1]


def test_sweep_predictions_and_run_tree(tmp_path, tiny, mlflow_uri):
    results, parent = run_stage(
        tmp_path, tiny, probes=["xgboost", "ridge"], tasks=["regression", "quadrant", "labels"]
    )
    sweep = pd.read_csv(tmp_path / "pred" / "tiny" / "layer_sweep.csv")
    assert len(sweep) == 3 * 2 * 3  # layers x probes x tasks
    best = sweep.loc[sweep.groupby(["probe", "task"])["val"].idxmax(), "layer_name"]
    assert set(best) == {"mid"} and (tmp_path / "pred" / "tiny" / "layer_sweep.png").is_file()
    index = EmbeddingStore(tmp_path / "emb" / "tiny").index()
    for probe in ("xgboost", "ridge"):
        for condition in ("clean", "reverb@3"):
            frame = pd.read_parquet(tmp_path / "pred" / "tiny" / probe / f"{condition}.parquet")
            assert list(frame.columns) == [
                "track_id", "split", "condition", "pred_valence_norm", "pred_arousal_norm",
                "pred_quadrant", "prob_q1", "prob_q2", "prob_q3", "prob_q4",
                *[f"prob_{label}" for label in LABELS],
            ]  # fmt: skip
            assert frame["track_id"].tolist() == index["track_id"].tolist()
            assert set(frame["condition"]) == {condition}
    assert results["tiny.ridge"]["test/r2_mean"] > 0.8
    report = json.loads((tmp_path / "probe_metrics.json").read_text())
    assert report["tiny"]["ridge"]["quadrant"]["test/f1_macro_quadrant"] == pytest.approx(
        results["tiny.ridge"]["test/f1_macro_quadrant"]
    )
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    names = sorted(r.info.run_name for r in runs)
    assert names == sorted(
        ["tiny/layer_sweep"]
        + [
            f"tiny/{p}/{t}"
            for p in ("xgboost", "ridge")
            for t in ("regression", "quadrant", "labels")
        ]
    )
    fit = next(r for r in runs if r.info.run_name == "tiny/ridge/regression")
    assert fit.data.params["layer"] == "mid" and fit.data.tags["emofx.layer"] == "mid"
    assert float(fit.data.params["ridge_alpha"]) in AUTO_GRIDS["ridge_alpha"]  # chosen on val
    assert fit.data.tags["emofx.params_hash"] == parent.data.tags["emofx.params_hash"]
    assert fit.data.metrics["test/r2_mean"] == pytest.approx(results["tiny.ridge"]["test/r2_mean"])
    (dataset,) = fit.inputs.dataset_inputs
    assert dataset.dataset.name == "tiny/tiny" and dataset.dataset.digest == "tiny-0-72"
    version = client.get_model_version_by_alias("emofx-tiny-tiny-ridge-quadrant", CHAMPION)
    assert version.run_id == next(
        r.info.run_id for r in runs if r.info.run_name == "tiny/ridge/quadrant"
    )


def test_champion_moves_only_when_val_improves(tmp_path, tiny, mlflow_uri):
    run_stage(tmp_path, tiny, probes=["ridge"], layer="low")  # noise layer: poor val
    run_stage(tmp_path, tiny, probes=["ridge"], layer="mid")  # better: alias moves
    run_stage(tmp_path, tiny, probes=["ridge"], layer="high")  # worse again: alias stays
    client = MlflowClient(mlflow_uri)
    versions = {
        int(v.version): float(v.tags["emofx.val_score"])
        for v in client.search_model_versions("name = 'emofx-tiny-tiny-ridge'")
    }
    assert sorted(versions) == [1, 2, 3]
    assert versions[2] > max(versions[1], versions[3])
    champion = client.get_model_version_by_alias("emofx-tiny-tiny-ridge", CHAMPION)
    assert int(champion.version) == 2
    assert champion.tags[REASON_TAG] == f"better val/r2_mean {versions[2]:.4g} > {versions[1]:.4g}"
    assert client.get_model_version("emofx-tiny-tiny-ridge", "1").tags[REASON_TAG] == "first"


def test_champion_is_replaced_when_the_data_changes(tmp_path, tiny, mlflow_uri):
    run_stage(tmp_path, tiny, probes=["ridge"], layer="mid")  # good val on store tiny-0-72
    shutil.rmtree(tmp_path / "emb")
    manifest = write_store(tmp_path / "emb", seed=1)[1]  # new data version: tiny-1-72
    _, parent = run_stage(tmp_path, manifest, probes=["ridge"], layer="low")  # poor val
    client = MlflowClient(mlflow_uri)
    old, new = (client.get_model_version("emofx-tiny-tiny-ridge", v) for v in ("1", "2"))
    assert float(new.tags["emofx.val_score"]) < float(old.tags["emofx.val_score"])
    assert int(client.get_model_version_by_alias("emofx-tiny-tiny-ridge", CHAMPION).version) == 2
    assert new.tags[REASON_TAG] == "data changed tiny-0-72→tiny-1-72"
    assert new.tags["emofx.data_digest"] == "tiny-1-72" and new.tags["emofx.task"] == "regression"
    (fit,) = client.search_runs(
        [parent.info.experiment_id],
        f"tags.mlflow.parentRunId = '{parent.info.run_id}' and tags.`emofx.probe` = 'ridge'",
    )
    assert fit.data.tags[REASON_TAG] == new.tags[REASON_TAG]


def test_same_seed_twice_gives_identical_metrics(tmp_path, tiny, mlflow_uri):
    raw = {"probes": ["mlp", "xgboost"], "layer": "mid", "register_models": False}
    first, _ = run_stage(tmp_path, tiny, **raw)
    again, _ = run_stage(tmp_path, tiny, **raw)
    assert first == again and first["tiny.mlp"]["test/r2_mean"] > 0.5


def test_tuned_mlp_with_layer_mix_logs_a_servable_model(tmp_path, tiny, mlflow_uri):
    raw = {
        "probes": ["mlp"],
        "mlp": {"layer_mode": "weighted", "max_epochs": 25},
        "tune": {"probes": ["mlp"], "n_trials": 2, "storage": str(tmp_path / "journal.log")},
    }
    results, parent = run_stage(tmp_path, tiny, **raw)
    client = MlflowClient(mlflow_uri)
    fit = client.search_runs(
        [parent.info.experiment_id], "attributes.run_name = 'tiny/mlp/regression'"
    )[0]
    assert fit.data.tags["emofx.layer"] == "weighted"
    assert {"tuned.lr", "tuned.preset"} <= set(fit.data.params)
    assert len(client.get_metric_history(fit.info.run_id, "train/loss")) > 1  # Lightning curves
    assert fit.data.metrics["val/r2_mean"] == pytest.approx(results["tiny.mlp"]["val/r2_mean"])
    model = mlflow.pyfunc.load_model("models:/emofx-tiny-tiny-mlp@champion")
    x = EmbeddingStore(tmp_path / "emb" / "tiny").load("clean")[:3]
    preds = pd.read_parquet(tmp_path / "pred" / "tiny" / "mlp" / "clean.parquet")
    served = model.predict(x.astype("float32"))
    assert served.shape == (3, 2)
    assert served[:, 0] == pytest.approx(preds["pred_valence_norm"][:3].to_numpy(), abs=1e-5)


def test_dvc_lineage_names_the_store_hash(tmp_path, tiny):
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=repo, check=True)
    (repo / "dvc.yaml").write_text(
        "stages:\n  probe:\n    cmd: emofx probe\n    deps: [../emb/tiny]\n    outs: [pred]\n"
    )
    hashes = dvc_stage_hashes("probe", repo)
    assert hashes.deps["../emb/tiny"].endswith(".dir") and len(hashes.stage) == 32
    assert hashes.hash_of(tmp_path / "emb" / "tiny") == hashes.deps["../emb/tiny"]
    assert hashes.tags()["dvc.stage_hash"] == hashes.stage
    assert dvc_stage_hashes("probe", tmp_path) is None  # not a DVC project
    with pytest.raises(ValueError, match="dvc stage 'nope'"):
        dvc_stage_hashes("nope", repo)
