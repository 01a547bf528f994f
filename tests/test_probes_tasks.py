"""Probe tasks from the manifest, prediction columns and metrics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from emofx.embed.store import EmbeddingStore
from emofx.probes.metrics import classification_metrics, score_split, selection_metric
from emofx.probes.tasks import build_task, prediction_columns
from tests.probe_data import LABELS, write_store

TARGETS = ["valence_norm", "arousal_norm"]


@pytest.fixture()
def tiny(tmp_path):
    root, manifest = write_store(tmp_path)
    return EmbeddingStore(root).index(), manifest


def test_three_tasks_align_targets_with_store_rows(tiny):
    index, manifest = tiny
    manifest.loc[5, "valence_norm"] = None  # unlabelled for regression only
    reg = build_task("regression", index, manifest, TARGETS)
    assert reg.outputs == TARGETS and 5 not in reg.rows and len(reg.rows) == len(index) - 1
    row = manifest.set_index("track_id").loc[index.track_id[7]]
    np.testing.assert_allclose(reg.y[reg.rows == 7][0], [row.valence_norm, row.arousal_norm])
    quad = build_task("quadrant", index, manifest, TARGETS)
    assert quad.outputs == ["q1", "q2", "q3", "q4"]
    np.testing.assert_array_equal(quad.y, manifest["quadrant"].to_numpy(int) - 1)
    labels = build_task("labels", index, manifest, TARGETS)
    assert labels.outputs == sorted(LABELS) and labels.y.shape == (len(index), 3)
    assert set(np.unique(labels.split)) == {"train", "val", "test"}


def test_missing_label_counts_as_zero_and_bad_labels_name_the_track(tiny):
    index, manifest = tiny
    manifest.loc[0, "labels"] = json.dumps({"calm": 0.5})
    data = build_task("labels", index, manifest, TARGETS)
    np.testing.assert_allclose(data.y[0], [0.5, 0.0, 0.0])
    manifest.loc[3, "labels"] = json.dumps({"calm": 1.5})
    with pytest.raises(ValueError, match=r"track t003: label 'calm' = 1.5 not in \[0, 1\]"):
        build_task("labels", index, manifest, TARGETS)
    manifest.loc[3, "labels"] = "{calm"
    with pytest.raises(ValueError, match="track t003: labels is not JSON"):
        build_task("labels", index, manifest, TARGETS)


def test_task_errors_name_the_problem(tiny):
    index, manifest = tiny
    train_q3 = (manifest["quadrant"] == 3) & (manifest["split"] == "train")
    manifest.loc[train_q3, "quadrant"] = 4
    with pytest.raises(ValueError, match=r"no train tracks in quadrant\(s\) \[3\]"):
        build_task("quadrant", index, manifest, TARGETS)
    with pytest.raises(ValueError, match=r"manifest has no column\(s\) \['labels'\]"):
        build_task("labels", index, manifest.drop(columns="labels"), TARGETS)
    manifest.loc[manifest["split"] == "val", "valence_norm"] = None
    with pytest.raises(ValueError, match="'regression': no labelled tracks in the val split"):
        build_task("regression", index, manifest, TARGETS)


def test_prediction_columns_follow_the_design(tiny):
    index, manifest = tiny
    quad = build_task("quadrant", index, manifest, TARGETS)
    probs = np.array([[0.1, 0.2, 0.6, 0.1], [0.7, 0.1, 0.1, 0.1]])
    cols = prediction_columns(quad, probs)
    assert list(cols) == ["pred_quadrant", "prob_q1", "prob_q2", "prob_q3", "prob_q4"]
    assert cols["pred_quadrant"].tolist() == [3, 1]
    reg = build_task("regression", index, manifest, TARGETS)
    assert list(prediction_columns(reg, np.zeros((2, 2)))) == [
        "pred_valence_norm",
        "pred_arousal_norm",
    ]
    labels = build_task("labels", index, manifest, TARGETS)
    assert list(prediction_columns(labels, np.zeros((2, 3)))) == [f"prob_{n}" for n in LABELS]


def test_metrics_are_named_split_metric_output(tiny):
    index, manifest = tiny
    reg = build_task("regression", index, manifest, TARGETS)
    y = reg.y[reg.mask("test")]
    perfect = score_split(reg, "test", y)
    assert perfect["test/r2_valence"] == 1.0 and perfect["test/rmse_arousal"] == 0.0
    assert perfect["test/r2_mean"] == 1.0 and selection_metric(reg) == "r2_mean"
    mean_only = score_split(reg, "test", np.tile(y.mean(0), (len(y), 1)))
    assert mean_only["test/r2_valence"] == pytest.approx(0.0)
    labels = build_task("labels", index, manifest, TARGETS)
    assert "val/pearson_joy" in score_split(labels, "val", labels.y[labels.mask("val")])


def test_classification_metrics_and_binary_auroc():
    probs = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]])
    out = classification_metrics("val", np.array([0, 1, 2]), probs)
    assert out["val/accuracy_quadrant"] == pytest.approx(2 / 3)
    assert out["val/f1_macro_quadrant"] == pytest.approx(0.5)  # q3 missed, q4 false positive
    frame = pd.DataFrame(
        {"track_id": ["a", "b", "c", "d"], "split": ["train", "val", "test", "val"]}
    )
    manifest = frame.assign(labels=[json.dumps({"x": v}) for v in (1, 0, 1, 1)])
    data = build_task("labels", frame, manifest, TARGETS)
    out = score_split(data, "val", np.array([[0.2], [0.9]]))
    assert out["val/auroc_x"] == 1.0
