"""Phase 1 on a synthetic corpus through the real prepare/embed code: SHAP finds the planted cues,
the grid runs with CV on train only, and every condition gets a prediction file."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from emofx.embed.store import EmbeddingStore
from emofx.systems.common import regression_task
from emofx.systems.config import Phase1Params, SystemsParams
from emofx.systems.features import feature_sets, pearson_scores, top_k
from emofx.systems.phase1 import select_features, store_feature_names
from emofx.systems.run import results_table, run_systems
from emofx.tracking import stage_run
from tests.systems_corpus import CONDITIONS, build_corpus

FAST_GRID = {
    "phase1": {
        "models": ["ridge", "xgboost"],
        "grids": {"ridge": {"alpha": [1.0, 100.0]}, "xgboost": {"n_estimators": [30]}},
        "shap_trees": 150,
    }
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("systems_corpus"), n_tracks=60, clip_seconds=5.0)


def clean_features(corpus):
    store = EmbeddingStore(corpus.embeddings / "handcrafted")
    data = regression_task(store.index(), corpus.manifest, ["valence_norm", "arousal_norm"])
    x = np.asarray(store.load("clean", 0))[data.rows]
    ids = store.index()["track_id"].iloc[data.rows].astype(int).to_numpy()
    return data, x, np.array(store_feature_names(store, x.shape[1])), ids


def test_shap_ranks_planted_cue_features_above_unrelated_ones(corpus):
    """Arousal is planted through tempo, loudness, density, articulation and brightness; the key
    (pitch class) is random. SHAP must rank level / spectral-shape features first, and the
    pitch-class features (chroma, tonnetz) well below them."""
    data, x, names, ids = clean_features(corpus)
    train = data.mask("train")
    selection = select_features(x[train], data.y[train, 1], Phase1Params(), 0, list(names))
    order = np.argsort(-selection.shap)
    pitch_class = np.array([n.startswith(("chroma", "tonnetz")) for n in names])
    assert not pitch_class[order[:10]].any(), names[order[:10]]
    contrast = np.array([n.startswith("contrast") for n in names])  # brightness: spectral contrast
    assert selection.shap[contrast].mean() > 2 * selection.shap[pitch_class].mean()
    # the top feature is a level feature that follows the planted loudness
    cues = pd.read_csv(corpus.root / "raw" / "synth_cues.csv").set_index("song_id").loc[ids]
    top = order[0]
    assert names[top].startswith(("mel_", "mfcc_00")) and names[top].endswith("_mean")
    rho = spearmanr(x[train, top], cues["loudness_db"].to_numpy()[train]).statistic
    assert rho > 0.5, (names[top], rho)


def test_feature_sets_combine_pearson_and_shap():
    sets = feature_sets(np.array([4, 1, 2]), np.array([2, 7, 4]), 10)
    assert sets == {
        "full": list(range(10)),
        "pearson": [1, 2, 4],
        "shap_or_pearson": [1, 2, 4, 7],
        "shap_and_pearson": [2, 4],
    }
    x = np.random.default_rng(0).normal(size=(50, 4))
    x[:, 3] = 1.0  # constant: no correlation, not NaN
    y = 2 * x[:, 2] - 0.5 * x[:, 0]
    scores = pearson_scores(x, y)
    assert scores[3] == 0.0
    assert list(top_k(scores, 2)) == [2, 0]


def test_phase1_stage_writes_predictions_metrics_and_shap_plots(corpus, tmp_path, mlflow_uri):
    params = SystemsParams.model_validate(FAST_GRID)
    out = tmp_path / "pred"
    with stage_run("systems", "synth", {}, artifact_root=str(tmp_path / "art")) as parent:
        metrics = run_systems(
            params,
            manifest=corpus.manifest,
            prepared_dir=corpus.prepared,
            conditions_path=corpus.conditions,
            embeddings_root=corpus.embeddings,
            predictions_root=out,
            figures_dir=tmp_path / "fig",
            seed=0,
        )
    expected = {
        f"phase1/{m}_{s}"
        for m in ("ridge", "xgboost")
        for s in ("full", "pearson", "shap_or_pearson", "shap_and_pearson")
    }
    assert set(metrics) == expected
    ridge = metrics["phase1/ridge_full"]
    assert ridge["test/r2_arousal"] > 0.3  # arousal is learnable from 386 features on 36 tracks
    assert (
        ridge["test/rmse_arousal"] > 0 and ridge["test/mae_arousal"] <= ridge["test/rmse_arousal"]
    )
    for name in ("shap_summary_valence.png", "shap_summary_arousal.png"):
        assert (tmp_path / "fig" / name).stat().st_size > 10_000
    frame = pd.read_parquet(out / "phase1" / "ridge_pearson" / "gain@8.parquet")
    assert list(frame.columns) == [
        "track_id",
        "split",
        "condition",
        "pred_valence_norm",
        "pred_arousal_norm",
    ]
    assert len(frame) == len(corpus.manifest) and (frame["condition"] == "gain@8").all()
    assert {p.stem for p in (out / "phase1" / "xgboost_full").glob("*.parquet")} == set(CONDITIONS)
    clean = pd.read_parquet(out / "phase1" / "ridge_pearson" / "clean.parquet")
    assert not np.allclose(clean["pred_arousal_norm"], frame["pred_arousal_norm"])  # +8 dB heard

    children = mlflow.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'", output_format="list"
    )
    by_name = {r.info.run_name: r for r in children}
    assert by_name["phase1/ridge_full"].data.metrics["test/r2_arousal"] == pytest.approx(
        ridge["test/r2_arousal"]
    )
    assert by_name["phase1/ridge_full"].data.params["arousal.model__alpha"] in {"1.0", "100.0"}
    path = mlflow.artifacts.download_artifacts(
        run_id=by_name["phase1/features"].info.run_id, artifact_path="feature_selection.json"
    )
    with open(path) as f:
        report = json.load(f)
    assert len(report["arousal_norm"]["sets"]["pearson"]) == 15

    table = results_table(metrics)
    assert len(table) == 8 and table["selected_on_val"].sum() == 1
    assert table.loc[table["model"] == "ridge_full", "R2_arousal"].item() == pytest.approx(
        ridge["test/r2_arousal"]
    )


@pytest.mark.slow
def test_phase1_is_reproducible_and_fits_on_train_only(corpus, tmp_path, mlflow_uri):
    """Same seed → identical predictions; changing val/test targets changes nothing fitted."""
    params = SystemsParams.model_validate(
        {"phase1": {**FAST_GRID["phase1"], "models": ["ridge"], "feature_sets": ["pearson"]}}
    )
    shuffled = corpus.manifest.copy()
    held_out = shuffled["split"] != "train"
    shuffled.loc[held_out, "arousal_norm"] = shuffled.loc[held_out, "arousal_norm"].to_numpy()[::-1]
    runs = []
    for i, manifest in enumerate([corpus.manifest, corpus.manifest, shuffled]):
        run_systems(
            params,
            manifest=manifest,
            prepared_dir=corpus.prepared,
            conditions_path=corpus.conditions,
            embeddings_root=corpus.embeddings,
            predictions_root=tmp_path / f"p{i}",
            figures_dir=tmp_path / f"f{i}",
            seed=0,
        )
        runs.append(
            pd.read_parquet(tmp_path / f"p{i}" / "phase1" / "ridge_pearson" / "clean.parquet")
        )
    pd.testing.assert_frame_equal(runs[0], runs[1])
    pd.testing.assert_frame_equal(runs[0], runs[2])


def test_missing_store_and_bad_grid_are_named(corpus, tmp_path, mlflow_uri):
    kwargs = dict(
        manifest=corpus.manifest,
        prepared_dir=corpus.prepared,
        conditions_path=corpus.conditions,
        predictions_root=tmp_path / "p",
        figures_dir=tmp_path / "f",
        seed=0,
    )
    with pytest.raises(FileNotFoundError, match="systems.phase1: no embedding store"):
        run_systems(SystemsParams(), embeddings_root=tmp_path / "nowhere", **kwargs)
    bad = SystemsParams.model_validate(
        {"phase1": {"models": ["ridge"], "grids": {"ridge": {"alpah": [1.0]}}}}
    )
    with pytest.raises(
        ValueError, match=r"systems.phase1.grids.ridge: unknown hyperparameter.*alpah"
    ):
        run_systems(bad, embeddings_root=corpus.embeddings, **kwargs)
