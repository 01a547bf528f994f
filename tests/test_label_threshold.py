"""Multi-label threshold and the off-default-path analysis outputs (issue #12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emofx.analysis.config import AnalysisParams
from emofx.analysis.loading import PredictionSet
from emofx.analysis.performance import performance_table
from emofx.analysis.shifts import shift_table


def _labels_set(threshold_share: float) -> tuple[PredictionSet, pd.DataFrame]:
    """Six tracks whose ``calm`` proportion is 0.4 or 0.1; the probe predicts it exactly."""
    ids = pd.Index([f"t{i}" for i in range(6)], name="track_id")
    shares = np.array([threshold_share if i % 2 else 0.1 for i in range(6)])
    manifest = pd.DataFrame({"labels": [{"calm": s} for s in shares]}, index=ids)
    frames = {
        "clean": pd.DataFrame({"prob_calm": shares}, index=ids),
        "gain@8": pd.DataFrame({"prob_calm": shares[::-1].copy()}, index=ids),
    }
    return PredictionSet("enc", "ridge", frames), manifest


def test_predictions_use_the_same_label_threshold_as_the_truth():
    pset, manifest = _labels_set(0.4)
    params = AnalysisParams(n_bootstrap=100, label_threshold=0.3)
    table = performance_table(pset, manifest, params, 0).set_index(["condition", "metric"])
    assert table.loc[("clean", "f1_micro_labels"), "value"] == pytest.approx(1.0)
    assert table.loc[("gain@8", "f1_micro_labels"), "value"] == pytest.approx(0.0)


def test_predicted_label_rates_use_the_label_threshold():
    pset, _ = _labels_set(0.4)
    shifts = shift_table(pset, AnalysisParams(n_bootstrap=100, label_threshold=0.3), 0)
    rate = shifts.set_index(["condition", "quantity"]).loc[("gain@8", "rate_calm")]
    assert rate["clean_mean"] == pytest.approx(0.5)  # 3 of 6 tracks at 0.4 ≥ 0.3 (none ≥ 0.5)


def test_without_dynamic_predictions_dynamic_impact_csv_is_still_written(tmp_path):
    """It is a DVC output of the analyze stage: a labels-only dataset must not fail the repro."""
    from emofx.analysis.config import AnalysisParams as Params
    from emofx.analysis.run import dynamic_outputs

    artifacts, section = dynamic_outputs([], pd.DataFrame(), tmp_path, Params(n_bootstrap=100))
    assert artifacts == [tmp_path / "dynamic_impact.csv"] and section is None
    assert (tmp_path / "dynamic_impact.csv").is_file()
