"""Systems under evaluation.protocol cv: the probes' folds, out-of-fold predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emofx.evaluation.config import EvaluationParams
from emofx.evaluation.folds import cv_folds, fold_columns
from emofx.fx.conditions import resolve_condition, save_conditions
from emofx.systems.config import SystemsParams
from emofx.systems.run import run_systems
from tests.embed_fixtures import make_prepared

REPO = Path(__file__).resolve().parents[1]


def test_spectrogram_networks_are_trained_per_fold(tmp_path, mlflow_uri):
    manifest = make_prepared(tmp_path / "prepared", n_tracks=6, seconds=3.0)
    rng = np.random.default_rng(0)
    manifest["valence_norm"] = rng.uniform(-1, 1, len(manifest))
    manifest["arousal_norm"] = rng.uniform(-1, 1, len(manifest))
    conditions = tmp_path / "conditions.json"
    save_conditions([resolve_condition(c) for c in ("clean", "gain@8")], conditions)
    fast = {"max_epochs": 1, "limit_train_batches": 1, "batch_size": 4, "models": ["cnn"]}
    params = SystemsParams.model_validate(
        {
            "phase1": {"enabled": False},
            "spectrogram": {"enabled": True, "config_dir": str(REPO / "lightning_configs"), **fast},
        }
    )
    evaluation = EvaluationParams(protocol="cv", folds=2)
    metrics = run_systems(
        params,
        manifest=manifest,
        prepared_dir=tmp_path / "prepared",
        conditions_path=conditions,
        embeddings_root=tmp_path / "emb",
        predictions_root=tmp_path / "pred",
        figures_dir=tmp_path / "fig",
        seed=0,
        evaluation=evaluation,
    )
    scores = metrics["spectrogram/cnn"]
    assert np.isfinite(scores["test/rmse_valence"]) and "cv/r2_mean_std" in scores
    folds = fold_columns(cv_folds(manifest, evaluation, 0), manifest["track_id"].to_numpy(), 0)
    for condition in ("clean", "gain@8"):
        frame = pd.read_parquet(tmp_path / "pred" / "spectrogram" / "cnn" / f"{condition}.parquet")
        assert frame["track_id"].tolist() == manifest["track_id"].tolist()
        assert (frame["fold"].to_numpy() == folds).all() and set(folds) == {0, 1}
        assert frame["pred_arousal_norm"].notna().all()
