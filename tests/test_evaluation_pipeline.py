"""`dvc repro` under evaluation.protocol cv: out-of-fold predictions of probes and systems on the
same folds, and a report that states the protocol and the per-fold spread."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from emofx.analysis.config import AnalysisParams
from emofx.analysis.statistics import bootstrap_ci
from tests.pipeline_repo import make_project, repro, tiny_params

pytestmark = pytest.mark.slow


def r2(y, p):
    return 1 - ((y - p) ** 2).sum(-1) / ((y - y.mean(-1, keepdims=True)) ** 2).sum(-1)


def test_dvc_repro_under_cv(tmp_path):
    params = tiny_params(
        **{
            "synth.n_tracks": 30,
            "synth.clip_seconds": 2.0,
            "dataset.clip_seconds": 2.0,
            "dataset.min_seconds": 1.0,
            "fx.effects": ["gain"],
            "fx.loudness_match": [],
            "fx.audition": {"clips": 0, "excerpt_s": 1.0, "materialise": False},
            "embed.frames.enabled": False,
            "probe.probes": ["ridge"],
            "probe.tasks": ["regression"],
            "probe.register_models": False,
            "systems.phase1.models": ["ridge"],
            "systems.phase1.feature_sets": ["full"],
            "evaluation.protocol": "cv",
            "analysis": {"n_bootstrap": 100, "projection": {"method": "tsne", "max_tracks": 8}},
        }
    )
    root = make_project(tmp_path / "proj", params)
    ran, out = repro(root)
    assert {"probe", "systems", "analyze"} <= set(ran), out
    manifest = pd.read_parquet(root / "data/prepared/synth/manifest.parquet")
    probe = pd.read_parquet(root / "data/predictions/synth/handcrafted/ridge/clean.parquet")
    system = pd.read_parquet(root / "data/systems/synth/phase1/ridge_full/gain@8.parquet")
    assert sorted(probe["track_id"]) == sorted(manifest["track_id"].astype(str))
    assert set(probe["fold"]) == set(range(5))
    folds = probe.set_index("track_id")["fold"]
    assert (system.set_index("track_id")["fold"] == folds.reindex(system["track_id"])).all()

    page = (root / "reports/synth/index.html").read_text()
    assert "5-fold cross-validation" in page and "per fold" in page
    assert "30</b> out-of-fold tracks" in page
    per_fold = pd.read_csv(root / "reports/synth/tables/folds.csv")
    assert set(per_fold["fold"]) == set(range(5))

    # clean-score CI: every track (cv) vs the test split's tracks alone
    truth = manifest.set_index(manifest["track_id"].astype(str))["arousal_norm"]
    y, p = truth.reindex(probe["track_id"]).to_numpy(), probe["pred_arousal_norm"].to_numpy()
    test = (probe["split"] == "test").to_numpy()
    widths = {}
    for name, rows in {"cv": slice(None), "split": test}.items():
        low, high = bootstrap_ci(lambda i, y=y[rows], p=p[rows]: r2(y[i], p[i]), len(y[rows]),
                                 AnalysisParams(), 0)  # fmt: skip
        widths[name] = high - low
    print(f"clean R² arousal 95% CI width: {json.dumps(widths)}, ratio "
          f"{widths['split'] / widths['cv']:.2f} ({len(y)} vs {test.sum()} tracks)")  # fmt: skip
    assert widths["split"] > 1.3 * widths["cv"]
