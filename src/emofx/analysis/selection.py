"""Which probe the report shows per (encoder, task): the one that scores best on validation.

Probe prediction files hold every split; the clean file's validation rows are scored here with
the same metrics as the test split, so the choice never looks at test data. Systems (the seed
report's models) are not candidates: they go to the comparison table.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from emofx.analysis.config import AnalysisParams
from emofx.analysis.loading import CLEAN, AnalysisInputError, ConditionInfo, load_prediction_set
from emofx.analysis.performance import tasks
from emofx.evaluation.folds import VALIDATION_FILE

SELECTION_METRIC = {"regression": "r2", "quadrant": "f1_macro", "labels": "f1_micro"}
"""Per task: the metric (mean over the task's targets) that picks the probe."""
VALIDATION_SPLIT = "val"


def validation_scores(
    files: dict[tuple[str, str], dict[str, Path]],
    manifest: pd.DataFrame,
    conditions: dict[str, ConditionInfo],
    params: AnalysisParams,
) -> pd.DataFrame:
    """``encoder, probe, task, metric, val_score`` of every probe on clean validation tracks;
    under cross-validation (no validation rows) the mean inner-validation score of its folds."""
    rows = []
    clean = {CLEAN: conditions[CLEAN]}
    for (encoder, probe), paths in files.items():
        try:
            pset = load_prediction_set(
                encoder, probe, {CLEAN: paths[CLEAN]}, manifest, clean, VALIDATION_SPLIT
            )
        except AnalysisInputError:  # no val rows: cross-validated, its folds' inner val scores
            rows += inner_validation_scores(encoder, probe, paths[CLEAN].parent)
            continue
        scores: dict[str, list[float]] = {}
        for task in tasks(pset, manifest, params):
            metric = task.metrics.get(SELECTION_METRIC[task.task])
            if metric is not None:
                scores.setdefault(task.task, []).append(
                    float(metric(task.truth, task.predictions[CLEAN]))
                )
        for task_name, values in scores.items():
            rows.append(
                {
                    "encoder": encoder,
                    "probe": probe,
                    "task": task_name,
                    "metric": SELECTION_METRIC[task_name],
                    "val_score": float(np.mean(values)),
                }
            )
    return pd.DataFrame(rows, columns=["encoder", "probe", "task", "metric", "val_score"])


def select_probes(candidates: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """``encoder, task, probe, val_score``: per (encoder, task) of ``candidates`` (rows
    ``encoder, probe, task``) the best validation score; ties, and tasks without any validation
    score, go to the probe first in alphabetical order."""
    keys = ["encoder", "probe", "task"]
    ranked = (
        candidates[keys]
        .drop_duplicates()
        .merge(scores[[*keys, "val_score"]], on=keys, how="left")
        .sort_values(
            ["encoder", "task", "val_score", "probe"],
            ascending=[True, True, False, True],
            na_position="last",
        )
    )
    best = ranked.drop_duplicates(["encoder", "task"])
    return best[["encoder", "task", "probe", "val_score"]].reset_index(drop=True)


def inner_validation_scores(encoder: str, probe: str, folder: Path) -> list[dict]:
    """Rows of the probe stage's ``validation.json`` (cross-validation): per task the mean over
    folds of the score on each fold's inner validation tracks, never on held-out ones."""
    path = folder / VALIDATION_FILE
    if not path.is_file():
        return []
    scores = json.loads(path.read_text())
    return [
        {"encoder": encoder, "probe": probe, "task": task, "metric": entry["metric"],
         "val_score": float(entry["score"])}
        for task, entry in scores.items()
    ]  # fmt: skip
