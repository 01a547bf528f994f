"""Performance metrics (vectorised over bootstrap resamples) pinned to scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from emofx.analysis.config import AnalysisParams
from emofx.analysis.loading import PredictionSet
from emofx.analysis.performance import (
    accuracy,
    f1_macro_classes,
    f1_macro_labels,
    f1_micro_labels,
    mae,
    performance_table,
    r2,
    rmse,
)

RNG = np.random.default_rng(0)


def test_regression_metrics_match_sklearn_and_vectorise_over_resamples():
    y, p = RNG.normal(size=50), RNG.normal(size=50)
    assert r2(y, p) == pytest.approx(skm.r2_score(y, p))
    assert rmse(y, p) == pytest.approx(skm.root_mean_squared_error(y, p))
    assert mae(y, p) == pytest.approx(skm.mean_absolute_error(y, p))
    idx = RNG.integers(0, 50, (7, 50))
    batched = r2(y[idx], p[idx])
    assert batched.shape == (7,)
    assert batched[3] == pytest.approx(skm.r2_score(y[idx[3]], p[idx[3]]))


def test_class_metrics_match_sklearn_including_classes_never_seen():
    y = np.array([1, 1, 2, 2, 3, 3, 3, 1])
    p = np.array([1, 2, 2, 2, 3, 1, 3, 1])  # class 4 absent from both
    assert accuracy(y, p) == pytest.approx(skm.accuracy_score(y, p))
    assert f1_macro_classes(y, p) == pytest.approx(skm.f1_score(y, p, average="macro"))
    p4 = p.copy()
    p4[0] = 4  # predicted but never true: counts in sklearn's macro average
    assert f1_macro_classes(y, p4) == pytest.approx(skm.f1_score(y, p4, average="macro"))
    y_rand, p_rand = RNG.integers(1, 5, (2, 40))
    assert f1_macro_classes(y_rand, p_rand) == pytest.approx(
        skm.f1_score(y_rand, p_rand, average="macro")
    )


def test_multilabel_f1_matches_sklearn_with_an_empty_label():
    y = RNG.random((30, 4)) > 0.5
    p = RNG.random((30, 4)) > 0.5
    y[:, 3] = p[:, 3] = False  # never true, never predicted: sklearn scores it 0 (zero_division)
    assert f1_micro_labels(y, p) == pytest.approx(skm.f1_score(y, p, average="micro"))
    assert f1_macro_labels(y, p) == pytest.approx(
        skm.f1_score(y, p, average="macro", zero_division=0)
    )
    idx = RNG.integers(0, 30, (5, 30))
    assert f1_micro_labels(y[idx], p[idx]).shape == (5,)


def _pset(truth: np.ndarray, preds: dict[str, np.ndarray]) -> tuple[PredictionSet, pd.DataFrame]:
    ids = pd.Index([f"t{i}" for i in range(len(truth))], name="track_id")
    manifest = pd.DataFrame({"valence_norm": truth, "arousal_norm": truth}, index=ids)
    frames = {
        c: pd.DataFrame({"pred_valence_norm": v, "pred_arousal_norm": v}, index=ids)
        for c, v in preds.items()
    }
    return PredictionSet("enc", "probe", frames), manifest


def test_performance_table_scores_each_condition_and_its_paired_delta():
    truth = RNG.normal(size=60)
    clean = truth + RNG.normal(0, 0.3, 60)
    worse = truth + RNG.normal(0, 1.0, 60)
    pset, manifest = _pset(truth, {"clean": clean, "reverb@8": worse, "perfect": truth})
    table = performance_table(pset, manifest, AnalysisParams(n_bootstrap=300), 0).set_index(
        ["condition", "metric"]
    )
    assert set(table.index.get_level_values("metric")) == {
        f"{m}_{t}" for m in ("r2", "rmse", "mae") for t in ("valence", "arousal")
    }
    row = table.loc[("reverb@8", "r2_arousal")]
    assert row["value"] == pytest.approx(skm.r2_score(truth, worse))
    assert row["delta"] == pytest.approx(row["value"] - skm.r2_score(truth, clean))
    assert row["ci_low"] <= row["delta"] <= row["ci_high"] < 0  # clearly worse than clean
    assert table.loc[("perfect", "rmse_valence"), "value"] == 0.0
    assert table.loc[("clean", "r2_valence"), "delta"] == 0.0
    assert (table["n"] == 60).all()
