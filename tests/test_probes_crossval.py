"""The probe stage under evaluation.protocol cv: out-of-fold predictions that nothing held out
has touched (labels or embeddings of the held-out fold poisoned → that fold's model unchanged)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from emofx.evaluation.config import EvaluationParams
from emofx.evaluation.folds import cv_folds, fold_columns
from emofx.probes.config import ProbeParams
from emofx.probes.run import run_probes
from emofx.tracking import stage_run
from tests.probe_data import write_store

CV = EvaluationParams(protocol="cv", folds=4)
PARAMS = {"probes": ["ridge"], "tasks": ["regression"], "register_models": False}


def run_cv(tmp_path, name, manifest, store_root):
    with stage_run("probe", "tiny", {}, artifact_root=str(tmp_path / "art")):
        results = run_probes(
            ProbeParams.model_validate(PARAMS),
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
        (probe, cond): pd.read_parquet(tmp_path / name / "tiny" / probe / f"{cond}.parquet")
        for probe in PARAMS["probes"]
        for cond in ("clean", "reverb@3")
    }
    return results, frames


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cv")
    _, manifest = write_store(tmp / "emb")
    results, frames = run_cv(tmp, "base", manifest, tmp / "emb")
    return tmp, manifest, results, frames


def test_every_track_has_one_out_of_fold_prediction(baseline, mlflow_uri):
    tmp, manifest, results, frames = baseline
    ids = manifest["track_id"].to_numpy()
    folds = fold_columns(cv_folds(manifest, CV, 0), ids, 0)
    for frame in frames.values():
        assert frame["track_id"].tolist() == ids.tolist()  # the store's rows, every track
        assert list(frame.columns[:4]) == ["track_id", "split", "condition", "fold"]
        assert (frame["fold"].to_numpy() == folds).all()
    report = json.loads((tmp / "base.json").read_text())["tiny"]["ridge"]["regression"]
    assert report["test/r2_mean"] > 0.8  # pooled out of fold: every labelled track
    assert report["cv/r2_mean_std"] > 0 and report["cv/r2_mean_min"] <= report["test/r2_mean"]
    assert results["tiny.ridge"]["test/r2_mean"] == report["test/r2_mean"]


def test_poisoning_the_held_out_fold_changes_nothing_fitted_for_it(baseline, tmp_path, mlflow_uri):
    tmp, manifest, _, base = baseline
    ids = manifest["track_id"].to_numpy()
    held = fold_columns(cv_folds(manifest, CV, 0), ids, 0) == 2
    rng = np.random.default_rng(9)
    poisoned = manifest.copy()  # the quadrant (the folds' stratum) stays: same folds
    for target in ("valence_norm", "arousal_norm"):
        poisoned.loc[held, target] = rng.uniform(-1, 1, held.sum())
    store = tmp_path / "emb"
    shutil.copytree(tmp / "emb", store)
    clean = np.load(store / "tiny" / "clean.npy")
    clean[held] = rng.normal(0, 5, clean[held].shape).astype(clean.dtype)
    np.save(store / "tiny" / "clean.npy", clean)
    _, after = run_cv(tmp_path, "poisoned", poisoned, store)
    for probe in PARAMS["probes"]:
        cols = ["pred_valence_norm", "pred_arousal_norm"]
        kept, moved = base[probe, "reverb@3"][cols], after[probe, "reverb@3"][cols]
        # fold 2's tracks are predicted by fold 2's model alone: bit-identical
        np.testing.assert_array_equal(kept[held].to_numpy(), moved[held].to_numpy())
        # the other folds trained on the poison, so the poisoning did reach the fitting
        assert not np.allclose(kept[~held].to_numpy(), moved[~held].to_numpy())
