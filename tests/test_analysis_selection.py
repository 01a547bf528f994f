"""The probe shown per (encoder, task) is chosen on validation rows, never on test rows."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from emofx.analysis.config import AnalysisParams
from emofx.analysis.loading import find_prediction_files, load_conditions, load_manifest
from emofx.analysis.selection import inner_validation_scores, select_probes, validation_scores
from emofx.evaluation.folds import VALIDATION_FILE
from tests.analysis_stores import write_stores


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """``ridge`` as written; ``noisy_val`` = ridge with noise on its validation rows only (worse
    on val, identical on test); ``noisy_test`` = ridge with noise on test rows only."""
    paths = write_stores(
        tmp_path_factory.mktemp("select"), n_tracks=60, effects={"gain": [8]}, chains=()
    )
    rng = np.random.default_rng(0)
    for probe, split in (("noisy_val", "val"), ("noisy_test", "test")):
        target = paths.predictions / "enc_a" / probe
        shutil.copytree(paths.predictions / "enc_a" / "ridge", target)
        for file in target.glob("*.parquet"):
            frame = pd.read_parquet(file)
            rows = frame["split"] == split
            for column in ("pred_valence_norm", "pred_arousal_norm"):
                frame.loc[rows, column] += rng.normal(0, 0.8, rows.sum())
            frame.to_parquet(file)
    conditions = load_conditions(paths.conditions)
    manifest = load_manifest(paths.manifest)
    files = find_prediction_files(paths.predictions)
    return validation_scores(files, manifest, conditions, AnalysisParams(n_bootstrap=100))


def test_validation_scores_are_computed_on_val_rows(scored):
    val = scored.set_index("probe")["val_score"]
    assert set(scored["task"]) == {"regression"} and set(scored["metric"]) == {"r2"}
    assert val["ridge"] == pytest.approx(val["noisy_test"])  # test noise is invisible here
    assert val["noisy_val"] < val["ridge"] - 0.3


def test_the_best_validation_score_is_shown(scored):
    candidates = scored[["encoder", "probe", "task"]]
    selected = select_probes(candidates, scored)
    # ridge and noisy_test tie on val: the alphabetically first wins, test rows never decide
    assert selected[["encoder", "task", "probe"]].values.tolist() == [
        ["enc_a", "regression", "noisy_test"]
    ]


def test_a_task_without_validation_rows_falls_back_to_the_first_probe():
    candidates = pd.DataFrame(
        {"encoder": ["e"] * 3, "probe": ["b", "a", "b"], "task": ["labels", "labels", "quadrant"]}
    )
    scores = pd.DataFrame(
        {"encoder": ["e"], "probe": ["b"], "task": ["quadrant"], "metric": ["f1_macro"],
         "val_score": [0.4]}
    )  # fmt: skip
    selected = select_probes(candidates, scores).set_index("task")["probe"]
    assert selected.to_dict() == {"labels": "a", "quadrant": "b"}


def test_cross_validated_probes_are_chosen_on_their_folds_inner_validation(tmp_path):
    """Out-of-fold files have no val rows: the probe stage's validation.json (mean inner-val score
    over the folds) decides, so the held-out predictions never choose what the report shows."""
    for probe, score in (("a_worse", 0.2), ("b_better", 0.6)):
        folder = tmp_path / "enc" / probe
        folder.mkdir(parents=True)
        (folder / VALIDATION_FILE).write_text(
            json.dumps({"regression": {"metric": "r2_mean", "score": score}})
        )
    rows = [
        inner_validation_scores("enc", p, tmp_path / "enc" / p) for p in ("a_worse", "b_better")
    ]
    scores = pd.DataFrame([r for part in rows for r in part])
    candidates = pd.DataFrame(
        {"encoder": ["enc", "enc"], "probe": ["a_worse", "b_better"], "task": ["regression"] * 2}
    )
    assert select_probes(candidates, scores)["probe"].tolist() == ["b_better"]
