"""The probe stage under evaluation.protocol cv: out-of-fold predictions that nothing held out
has touched (labels or embeddings of the held-out fold poisoned → that fold's model unchanged)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from emofx.evaluation.config import EvaluationParams
from emofx.evaluation.folds import Fold, cv_folds, fold_columns
from emofx.probes.config import ProbeParams
from emofx.probes.crossval import fold_task
from emofx.probes.run import run_probes
from emofx.probes.tasks import TaskData
from emofx.tracking import stage_run
from tests.probe_data import write_store

CV = EvaluationParams(protocol="cv", folds=4)
PARAMS = {"probes": ["ridge"], "tasks": ["regression"]}


def run_cv(tmp_path, name, manifest, store_root, register=False):
    # Optuna is nested: 2 trials per fold on the fold's train / inner val
    tune = {"probes": ["ridge"], "n_trials": 2, "storage": str(tmp_path / f"{name}.optuna")}
    with stage_run("probe", "tiny", {}, artifact_root=str(tmp_path / "art")):
        results = run_probes(
            ProbeParams.model_validate({**PARAMS, "register_models": register, "tune": tune}),
            manifest,
            store_root,
            ["tiny"],
            tmp_path / name,
            seed=0,
            dataset="tiny",
            metrics_path=tmp_path / f"{name}.json",
            evaluation=CV,
        )
    frames = {
        cond: pd.read_parquet(tmp_path / name / "tiny" / "ridge" / f"{cond}.parquet")
        for cond in ("clean", "reverb@3")
    }
    return results, frames


def test_out_of_fold_predictions_and_poisoned_held_out_fold(tmp_path, mlflow_uri):
    """Every track predicted once, by the one fold that held it out; the final refit registered
    with the out-of-fold score. Poisoning the labels and the clean embeddings of held-out fold 2
    leaves its model (layer sweep, Optuna study and fit), hence its tracks' predictions,
    bit-identical while the other folds move."""
    _, manifest = write_store(tmp_path / "emb")
    results, base = run_cv(tmp_path, "base", manifest, tmp_path / "emb", register=True)
    ids = manifest["track_id"].to_numpy()
    folds = fold_columns(cv_folds(manifest, CV, 0), ids, 0)
    for frame in base.values():
        assert frame["track_id"].tolist() == ids.tolist()  # the store's rows, every track
        assert list(frame.columns[:4]) == ["track_id", "split", "condition", "fold"]
        assert (frame["fold"].to_numpy() == folds).all()
    report = json.loads((tmp_path / "base.json").read_text())["tiny"]["ridge"]["regression"]
    assert report["test/r2_mean"] > 0.8  # pooled out of fold: every labelled track
    assert report["cv/r2_mean_std"] > 0 and report["cv/r2_mean_min"] <= report["test/r2_mean"]
    assert results["tiny.ridge"]["test/r2_mean"] == report["test/r2_mean"]
    # the report's probe choice reads the folds' inner-validation score, never the held-out one
    chosen = json.loads((tmp_path / "base" / "tiny" / "ridge" / "validation.json").read_text())
    assert chosen["regression"]["score"] == report["cv/val_r2_mean_mean"]
    assert chosen["regression"]["score"] != report["test/r2_mean"]
    (version,) = MlflowClient().search_model_versions("name = 'emofx-tiny-tiny-ridge'")
    assert version.tags["emofx.split"] == "out_of_fold"
    assert float(version.tags["emofx.val_score"]) == pytest.approx(report["test/r2_mean"])

    held = folds == 2
    rng = np.random.default_rng(9)
    poisoned = manifest.copy()  # the quadrant (the folds' stratum) stays: same folds
    for target in ("valence_norm", "arousal_norm"):
        poisoned.loc[held, target] = rng.uniform(-1, 1, held.sum())
    store = tmp_path / "poisoned_emb"
    shutil.copytree(tmp_path / "emb", store)
    clean = np.load(store / "tiny" / "clean.npy")
    clean[held] = rng.normal(0, 5, clean[held].shape).astype(clean.dtype)
    np.save(store / "tiny" / "clean.npy", clean)
    _, after = run_cv(tmp_path, "poisoned", poisoned, store)
    cols = ["pred_valence_norm", "pred_arousal_norm"]
    kept, moved = base["reverb@3"][cols].to_numpy(), after["reverb@3"][cols].to_numpy()
    np.testing.assert_array_equal(kept[held], moved[held])  # fold 2's model alone
    assert not np.allclose(kept[~held], moved[~held])  # the others trained on the poison


def test_mlp_seeds_report_the_spread_of_the_score(tmp_path, mlflow_uri):
    _, manifest = write_store(tmp_path / "emb", n=40)
    params = ProbeParams.model_validate(
        {
            "probes": ["mlp"],
            "tasks": ["regression"],
            "layer": "mid",
            "register_models": False,
            "mlp": {"max_epochs": 2, "seeds": 2},
        }
    )
    with stage_run("probe", "tiny", {}, artifact_root=str(tmp_path / "art")):
        results = run_probes(params, manifest, tmp_path / "emb", ["tiny"], tmp_path / "p", 0)
    metrics = results["tiny.mlp"]
    low, high = metrics["seeds/test/r2_mean_min"], metrics["seeds/test/r2_mean_max"]
    assert low < high and metrics["seeds/test/r2_mean_std"] > 0
    assert low <= metrics["test/r2_mean"] <= high  # the first seed's fit is the one kept


def test_a_fold_without_train_tracks_of_a_quadrant_is_named():
    ids = np.array([f"t{i}" for i in range(8)])
    data = TaskData("quadrant", ["q1", "q2", "q3", "q4"], np.arange(8),
                    np.array([0, 0, 1, 1, 2, 2, 3, 3]), np.full(8, "train"))  # fmt: skip
    roles = np.array(["train", "train", "train", "val", "test", "test", "train", "train"])
    fold = Fold(0, 1, pd.Series(roles, index=ids))
    with pytest.raises(
        ValueError, match=r"repeat-0/fold-1 has no train tracks in quadrant\(s\) \[3\]"
    ):
        fold_task(data, fold, ids)
