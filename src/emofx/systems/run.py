"""The ``systems`` stage: every enabled phase on the same splits, predictions for every condition.

``run_systems`` is the stage entry (the CLI opens the stage's MLflow run; each system logs a nested
run below it). ``results_table`` lays the returned metrics out like the seed report's table.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd

from emofx.evaluation.config import EvaluationParams
from emofx.evaluation.folds import cv_folds
from emofx.locks import exclusive_output
from emofx.systems.config import SYSTEM_PHASES, SystemsParams
from emofx.systems.emotion_mlp import run_phase3
from emofx.systems.phase1 import run_phase1
from emofx.systems.phase2 import run_phase2

TABLE_METRICS = ("r2", "rmse", "mae")


@exclusive_output("predictions_root", "systems", clear_on_error=True)
def run_systems(
    params: SystemsParams,
    *,
    manifest: pd.DataFrame,
    prepared_dir: Path,
    conditions_path: Path,
    embeddings_root: Path,
    predictions_root: Path,
    figures_dir: Path,
    seed: int,
    evaluation: EvaluationParams | None = None,
) -> dict[str, dict[str, float]]:
    """Run the enabled phases; ``{"<system>/<model>": {"test/r2_valence": …, …}}``.

    ``evaluation`` (default: the fixed split) resolves like the probe stage's, and under ``cv``
    the systems use the probes' folds (the same function of manifest, params and seed), so the
    comparison table compares like with like; ``test/…`` are then out-of-fold scores.

    Writes ``<predictions_root>/<system>/<model>/<condition>.parquet`` (``predictions_root``
    exists afterwards even when no phase is enabled) and, under
    ``figures_dir``, ``shap_summary_<target>.png`` (Phase 1) and ``tsne_panns.png`` (Phase 3).
    """
    targets = list(params.targets)
    protocol = (evaluation or EvaluationParams(protocol="split")).resolve(len(manifest))
    enabled = any(getattr(params, phase).enabled for phase in SYSTEM_PHASES)
    cv = evaluation is not None and protocol == "cv" and enabled
    folds = cv_folds(manifest, evaluation, seed) if cv else None
    if mlflow.active_run() is not None:
        mlflow.set_tag("emofx.evaluation.protocol", protocol)
    predictions_root.mkdir(parents=True, exist_ok=True)  # the stage's output, even when empty
    results: dict[str, dict[str, float]] = {}
    if params.phase1.enabled:
        results |= run_phase1(
            params.phase1,
            manifest,
            targets,
            embeddings_root,
            predictions_root,
            figures_dir,
            seed,
            folds,
        )
    if params.spectrogram.enabled:
        results |= run_phase2(
            params.spectrogram,
            manifest,
            targets,
            prepared_dir,
            conditions_path,
            predictions_root,
            seed,
            folds,
        )
    if params.panns_mlp.enabled:
        results |= run_phase3(
            params.panns_mlp,
            manifest,
            targets,
            embeddings_root,
            predictions_root,
            figures_dir,
            seed,
            folds,
        )
    return results


def results_table(metrics: dict[str, dict[str, float]], split: str = "test") -> pd.DataFrame:
    """One row per system/model: R², RMSE, MAE for valence and arousal on ``split``.

    Columns ``system, model, R2_valence, RMSE_valence, MAE_valence, R2_arousal, …`` (missing
    targets are NaN), plus ``selected_on_val``: the best model of each system by mean val R².
    """
    rows = []
    for key, values in metrics.items():
        system, _, model = key.partition("/")
        row: dict[str, object] = {"system": system, "model": model}
        for target in ("valence", "arousal"):
            for metric in TABLE_METRICS:
                row[f"{metric.upper()}_{target}"] = values.get(f"{split}/{metric}_{target}")
        row["val_r2_mean"] = values.get("val/r2_mean")
        rows.append(row)
    columns = ["system", "model"] + [
        f"{m.upper()}_{t}" for t in ("valence", "arousal") for m in TABLE_METRICS
    ]
    table = pd.DataFrame(rows, columns=[*columns, "val_r2_mean"])
    table[columns[2:]] = table[columns[2:]].astype(float)
    best = table.groupby("system")["val_r2_mean"].transform("max")
    table["selected_on_val"] = table["val_r2_mean"].eq(best) & table["val_r2_mean"].notna()
    return table.drop(columns="val_r2_mean").reset_index(drop=True)
