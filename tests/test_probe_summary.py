"""The probe stage's console summary names the right score for every task type."""

from __future__ import annotations

import numpy as np

from emofx.probes.metrics import summary_line


def test_regression_and_quadrant():
    metrics = {
        "test/r2_valence": 0.12,
        "test/r2_arousal": 0.634,
        "test/r2_mean": 0.377,
        "test/accuracy_quadrant": 0.5,
        "test/f1_macro_quadrant": 0.41,
        "val/r2_mean": 0.9,
    }
    assert summary_line(metrics) == (
        "test: R² valence 0.12, arousal 0.63; quadrant acc 0.50, F1 0.41"
    )


def test_labels_only_dataset_gets_per_label_scores_not_an_empty_line():
    gems = ["power", "joy"]
    metrics = {"test/r2_mean_labels": 0.2}
    for name, r, auc in zip(gems, [0.6, 0.4], [0.8, 0.7], strict=True):
        metrics |= {f"test/pearson_{name}": r, f"test/auroc_{name}": auc, f"test/r2_{name}": 0.2}
    assert summary_line(metrics) == "test: 2 labels: mean R² 0.20, r 0.50, AUROC 0.75"


def test_dynamic_and_nothing():
    line = summary_line({"test/song_pearson_arousal_dynamic": 0.27, "test/r2_mean_dynamic": 0.6})
    assert line == "test: 2-Hz song r arousal 0.27"
    assert summary_line({"test/x": np.nan}) == "test: no metrics"
