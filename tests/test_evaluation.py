"""The cross-validation protocol's folds, its config, and how the analysis reads its predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from emofx.analysis.config import AnalysisParams
from emofx.analysis.loading import PredictionSet, mean_over_repeats
from emofx.analysis.performance import fold_table
from emofx.evaluation.config import EvaluationParams
from emofx.evaluation.folds import FINAL, FoldError, cv_folds, fold_columns, held_out


def manifest(n: int = 90, seed: int = 0) -> pd.DataFrame:
    """Tracks in groups of three (clips of one song), quadrants drawn per group."""
    rng = np.random.default_rng(seed)
    quadrant = np.repeat(rng.integers(1, 5, n // 3), 3)
    return pd.DataFrame(
        {
            "track_id": [f"t{i:03d}" for i in range(n)],
            "group_id": [f"song{i // 3}" for i in range(n)],
            "split": "train",
            "quadrant": pd.array(quadrant, dtype="Int64"),
        }
    )


def test_every_track_is_held_out_once_per_repeat_and_groups_stay_together():
    frame = manifest()
    folds = cv_folds(frame, EvaluationParams(protocol="cv", folds=5, repeats=2), seed=3)
    assert len(held_out(folds)) == 10 and folds[-1].fold == FINAL
    ids = frame["track_id"].to_numpy()
    group_of = frame.set_index("track_id")["group_id"]
    for repeat in (0, 1):
        fold = fold_columns(folds, ids, repeat)  # raises if a track is in no fold
        counts = sum((f.roles(ids) == "test").astype(int) for f in folds if f.repeat == repeat
                     and f.fold != FINAL)  # fmt: skip
        assert (counts == 1).all()
        assert pd.Series(fold, index=group_of.to_numpy()).groupby(level=0).nunique().max() == 1
    for f in folds:
        roles = pd.Series(f.roles(ids), index=ids)
        assert (roles == "test").any() == (f.fold != FINAL)
        assert (roles == "val").sum() > 0 and (roles == "train").sum() > len(ids) / 2
        per_group = roles.groupby(group_of).nunique()
        assert per_group.max() == 1  # train, inner val and held-out fold are group-disjoint
    first, second = (fold_columns(folds, ids, r) for r in (0, 1))
    assert not np.array_equal(first, second)  # repeats reshuffle
    again = cv_folds(frame, EvaluationParams(protocol="cv", folds=5, repeats=2), seed=3)
    assert all(a.split.equals(b.split) for a, b in zip(folds, again, strict=True))


def test_folds_are_stratified_by_quadrant():
    frame = manifest(300, seed=1)
    folds = cv_folds(frame, EvaluationParams(protocol="cv"), seed=0)
    shares = frame["quadrant"].value_counts(normalize=True)
    for f in held_out(folds):
        held = frame[f.roles(frame["track_id"].to_numpy()) == "test"]
        assert (held["quadrant"].value_counts(normalize=True) - shares).abs().max() < 0.08


def test_auto_resolves_from_the_manifest_size():
    assert EvaluationParams().resolve(100) == "cv"
    assert EvaluationParams().resolve(2000) == "split"
    assert EvaluationParams(protocol="split").resolve(10) == "split"
    assert EvaluationParams(auto_cv_below=50).resolve(100) == "split"


@pytest.mark.parametrize("split", ["train", "val"])
def test_analysis_refuses_to_score_data_the_probes_saw(split):
    with pytest.raises(ValidationError, match="only held-out data is scored"):
        AnalysisParams(split=split)


def test_repeats_average_each_tracks_predictions():
    frame = pd.DataFrame(
        {
            "track_id": ["a", "b", "a", "b"],
            "repeat": [0, 0, 1, 1],
            "fold": [0, 1, 1, 0],
            "pred_valence_norm": [0.2, -0.4, 0.4, 0.0],
            "pred_quadrant": [1, 3, 2, 3],
            **{f"prob_q{q}": [0.0] * 4 for q in (1, 2, 3, 4)},
        }
    )
    frame.loc[:, ["prob_q1", "prob_q2"]] = [[0.6, 0.4], [0.1, 0.0], [0.3, 0.7], [0.0, 0.1]]
    frame.loc[:, ["prob_q3"]] = [[0.0], [0.9], [0.0], [0.9]]
    out = mean_over_repeats(frame).set_index("track_id")
    assert out.loc["a", "pred_valence_norm"] == pytest.approx(0.3)
    assert out.loc["a", "pred_quadrant"] == 2  # mean probabilities 0.45 / 0.55
    assert out["fold"].tolist() == [0, 1] and "repeat" not in out


def test_fold_table_scores_each_fold_on_its_own_tracks():
    truth = np.linspace(-1, 1, 10)
    fold = np.repeat([0, 1], 5)
    pred = truth + np.where(fold == 0, 0.0, 0.3)
    ids = [f"t{i}" for i in range(10)]
    clean = pd.DataFrame(
        {"pred_valence_norm": pred, "pred_arousal_norm": truth, "fold": fold}, index=ids
    )
    man = pd.DataFrame({"valence_norm": truth, "arousal_norm": truth}, index=ids)
    table = fold_table(PredictionSet("enc", "ridge", {"clean": clean}), man, AnalysisParams())
    r2 = table[table["metric"] == "r2_valence"].set_index("fold")["value"]
    assert r2[0] == pytest.approx(1.0) and r2[1] < 1.0
    assert set(table["n"]) == {5}


def test_without_quadrants_folds_are_stratified_by_the_strongest_label():
    """Emotify (GEMS proportions, no valence/arousal): each fold keeps the label mix."""
    rng = np.random.default_rng(2)
    top = rng.choice(["calm", "power", "joy"], 120, p=[0.6, 0.3, 0.1])
    frame = pd.DataFrame(
        {
            "track_id": [f"e{i}" for i in range(120)],
            "split": "train",
            "quadrant": pd.array([None] * 120, dtype="Int64"),
            "labels": [f'{{"{t}": 0.7, "other": 0.2}}' for t in top],
        }
    )
    for fold in held_out(cv_folds(frame, EvaluationParams(protocol="cv"), seed=0)):
        held = top[fold.roles(frame["track_id"].to_numpy()) == "test"]
        assert len(held) == 24 and (held == "joy").sum() in (2, 3)


def test_too_few_groups_for_the_folds_is_one_clear_error():
    with pytest.raises(FoldError, match="5 folds need at least 5 groups .songs., got 4"):
        cv_folds(manifest(12), EvaluationParams(protocol="cv"), seed=0)


def test_a_dataset_whose_strata_are_all_smaller_than_a_fold_gets_group_folds():
    """Regression: 12 tracks in 4 quadrants (3 each) raised sklearn's 'n_splits=5 cannot be greater
    than the number of members in each class' from the probe stage."""
    tiny = manifest(12).assign(group_id=[f"song{i}" for i in range(12)])
    tiny["quadrant"] = pd.array(np.repeat([1, 2, 3, 4], 3), dtype="Int64")
    folds = cv_folds(tiny, EvaluationParams(protocol="cv"), seed=0)
    held = fold_columns(folds, tiny["track_id"].to_numpy(), 0)
    assert sorted(np.bincount(held)) == [2, 2, 2, 3, 3]
