"""The dynamic (2-Hz) probe task: frame/annotation alignment, per-song scores, predictions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr

from emofx.evaluation.config import EvaluationParams
from emofx.evaluation.folds import cv_folds, fold_columns
from emofx.probes.config import ProbeParams
from emofx.probes.metrics import per_song_metrics
from emofx.probes.run import run_probes
from emofx.probes.tasks import build_dynamic_task
from emofx.tracking import stage_run
from tests.probe_data import write_frame_store, write_store

TARGETS = ["valence_norm", "arousal_norm"]


@pytest.fixture()
def dynamic(tmp_path):
    store, manifest = write_store(tmp_path / "emb", n=40)
    curves = write_frame_store(store, manifest)
    return manifest, curves


def test_each_frame_takes_the_annotation_at_its_time():
    index = pd.DataFrame(
        {"track_id": ["a"] * 4 + ["b"] * 4, "split": ["train"] * 4 + ["val"] * 4,
         "time_s": [3.0, 3.5, 4.0, 4.5] * 2}
    )  # fmt: skip
    curves = pd.DataFrame(
        {
            "track_id": ["a", "a", "a", "b", "b", "c"],
            "time_s": [2.5, 3.5, 4.0001, 3.0, 4.4, 3.0],  # 2.5: no frame; c: no frames
            "valence_norm": [9.0, 0.1, 0.2, 0.3, 0.4, 9.0],
            "arousal_norm": [9.0, -0.1, -0.2, -0.3, -0.4, 9.0],
        }
    )
    with pytest.raises(ValueError, match="no annotated frames in the test split"):
        build_dynamic_task(index, curves, TARGETS, hop_s=0.5)
    index.loc[7, "split"] = "test"
    data = build_dynamic_task(index, curves, TARGETS, hop_s=0.5)
    assert data.rows.tolist() == [1, 2, 4, 7]  # b's 4.4 is 0.1 s from the 4.5-s frame
    assert data.y[:, 0].tolist() == [0.1, 0.2, 0.3, 0.4]
    assert data.groups.tolist() == ["a", "a", "b", "b"]
    assert data.split.tolist() == ["train", "train", "val", "test"]


def test_per_song_scores_average_within_song_pearson_and_rmse():
    rng = np.random.default_rng(0)
    songs = np.repeat(["s1", "s2", "s3"], 10)
    y = rng.normal(size=(30, 1))
    pred = y + rng.normal(scale=0.5, size=(30, 1))
    y[20:, 0] = 0.25  # s3: a constant annotation has no correlation
    out = per_song_metrics("test", ["valence"], y, pred, songs)
    rs = [pearsonr(y[i : i + 10, 0], pred[i : i + 10, 0]).statistic for i in (0, 10)]
    rmses = [np.sqrt(np.mean((y[i : i + 10, 0] - pred[i : i + 10, 0]) ** 2)) for i in (0, 10, 20)]
    assert out["test/song_pearson_valence"] == pytest.approx(np.mean(rs))
    assert out["test/song_rmse_valence"] == pytest.approx(np.mean(rmses))


def run(tmp_path, manifest, curves, out="pred", evaluation=None, **raw):
    params = ProbeParams.model_validate(
        {"xgboost": {"n_estimators": 40}, "mlp": {"max_epochs": 25}, **raw}
    )
    (tmp_path / out).mkdir(parents=True, exist_ok=True)
    with stage_run("probe", "tiny", {}, artifact_root=str(tmp_path / "art")):
        return run_probes(
            params,
            manifest,
            tmp_path / "emb",
            ["tiny"],
            tmp_path / out,
            0,
            dataset="tiny",
            metrics_path=tmp_path / out / "probe_metrics.json",
            dynamic_curves=curves,
            evaluation=evaluation,
        )


def test_dynamic_probe_predicts_every_frame_of_every_condition(tmp_path, dynamic, mlflow_uri):
    manifest, curves = dynamic
    results = run(
        tmp_path, manifest, curves, probes=["ridge", "mlp"], tasks=["regression", "dynamic"]
    )
    assert results["tiny.mlp"]["test/song_pearson_arousal_dynamic"] > 0.5  # frames, not songs
    metrics = results["tiny.ridge"]
    assert metrics["test/song_pearson_valence_dynamic"] > 0.8  # the mid layer carries the curves
    assert metrics["test/song_pearson_arousal_dynamic"] > 0.8
    assert metrics["test/r2_mean"] > 0.8  # the static task is still there
    assert (tmp_path / "pred" / "tiny" / "ridge" / "clean.parquet").is_file()
    report = json.loads((tmp_path / "pred" / "probe_metrics.json").read_text())
    assert report["tiny"]["ridge"]["dynamic"]["test/r2_mean_dynamic"] == pytest.approx(
        metrics["test/r2_mean_dynamic"]
    )
    sweep = pd.read_csv(tmp_path / "pred" / "tiny" / "dynamic_layers" / "layer_sweep.csv")
    assert sweep.loc[sweep["val"].idxmax(), "layer_name"] == "mid"
    for condition in ("clean", "reverb@3"):
        frame = pd.read_parquet(
            tmp_path / "pred" / "tiny" / "ridge" / "dynamic" / f"{condition}.parquet"
        )
        assert list(frame.columns) == [
            "track_id", "split", "time_s", "condition", *TARGETS,
            "pred_valence_norm", "pred_arousal_norm",
        ]  # fmt: skip
        assert len(frame) == 40 * 12 and set(frame["condition"]) == {condition}
        # the last two frames of each track have no annotation: NaN, never a guessed value
        assert frame.groupby("track_id")["valence_norm"].apply(lambda v: v.isna().sum()).eq(2).all()
    shifted = pd.read_parquet(tmp_path / "pred" / "tiny" / "ridge" / "dynamic" / "reverb@3.parquet")
    assert (shifted["pred_valence_norm"] - frame["pred_valence_norm"]).abs().max() == 0  # same file
    clean = pd.read_parquet(tmp_path / "pred" / "tiny" / "ridge" / "dynamic" / "clean.parquet")
    assert (shifted["pred_valence_norm"] - clean["pred_valence_norm"]).abs().mean() > 0.05


def test_test_annotations_never_reach_the_fit(tmp_path, dynamic, mlflow_uri):
    manifest, curves = dynamic
    first = run(
        tmp_path,
        manifest,
        curves,
        out="a",
        probes=["xgboost"],
        tasks=["dynamic"],
        register_models=False,
    )
    test_ids = manifest.loc[manifest["split"] == "test", "track_id"]
    poisoned = curves.copy()
    rows = poisoned["track_id"].isin(test_ids)
    poisoned.loc[rows, TARGETS] = np.random.default_rng(5).uniform(-1, 1, size=(rows.sum(), 2))
    second = run(
        tmp_path,
        manifest,
        poisoned,
        out="b",
        probes=["xgboost"],
        tasks=["dynamic"],
        register_models=False,
    )
    for split in ("train", "val"):
        assert (
            first["tiny.xgboost"][f"{split}/r2_mean_dynamic"]
            == second["tiny.xgboost"][f"{split}/r2_mean_dynamic"]
        )
    assert (
        first["tiny.xgboost"]["test/r2_mean_dynamic"]
        != second["tiny.xgboost"]["test/r2_mean_dynamic"]
    )
    a, b = (
        pd.read_parquet(p / "tiny/xgboost/dynamic/clean.parquet")
        for p in (tmp_path / "a", tmp_path / "b")
    )
    np.testing.assert_array_equal(a["pred_arousal_norm"], b["pred_arousal_norm"])


def test_under_cv_each_song_is_predicted_by_the_fold_that_held_it_out(
    tmp_path, dynamic, mlflow_uri
):
    """Every annotated song is scored out of fold; poisoning the curves of held-out fold 2 leaves
    fold 2's frame predictions bit-identical while the folds that trained on it move."""
    manifest, curves = dynamic
    cv = EvaluationParams(protocol="cv", folds=4)
    ids = manifest["track_id"].astype(str).to_numpy()
    fold_of = pd.Series(fold_columns(cv_folds(manifest, cv, 0), ids, 0), index=ids)
    kwargs = {"probes": ["xgboost"], "tasks": ["dynamic"], "register_models": False}
    first = run(tmp_path, manifest, curves, out="a", evaluation=cv, **kwargs)
    poisoned = curves.copy()
    rows = poisoned["track_id"].astype(str).map(fold_of).eq(2)
    poisoned.loc[rows, TARGETS] = np.random.default_rng(5).uniform(-1, 1, size=(rows.sum(), 2))
    run(tmp_path, manifest, poisoned, out="b", evaluation=cv, **kwargs)
    a, b = (
        pd.read_parquet(p / "tiny/xgboost/dynamic/clean.parquet")
        for p in (tmp_path / "a", tmp_path / "b")
    )
    assert (a["fold"].to_numpy() == fold_of.reindex(a["track_id"]).to_numpy()).all()
    held = a["fold"].eq(2).to_numpy()
    assert 0 < held.sum() < len(a)
    for column in ("pred_valence_norm", "pred_arousal_norm"):
        np.testing.assert_array_equal(a.loc[held, column], b.loc[held, column])
        assert not np.array_equal(a.loc[~held, column], b.loc[~held, column])
    metrics = first["tiny.xgboost"]
    assert metrics["cv/r2_mean_dynamic_std"] >= 0  # per-fold spread of the frame R²
    assert metrics["test/song_pearson_arousal_dynamic"] > 0.5  # every song, out of fold


def test_dynamic_task_needs_curves_and_a_frame_store(tmp_path, mlflow_uri):
    _, manifest = write_store(tmp_path / "emb", n=40)
    with pytest.raises(ValueError, match=r"no dynamic annotations \(remove 'dynamic'"):
        run(tmp_path, manifest, None, probes=["ridge"], tasks=["dynamic"])
    curves = write_frame_store(tmp_path / "other", manifest)  # curves, but no frames for "tiny"
    with pytest.raises(FileNotFoundError, match="set embed.frames.enabled: true"):
        run(tmp_path, manifest, curves, probes=["ridge"], tasks=["dynamic"])
