"""`dvc repro` under evaluation.protocol cv: out-of-fold predictions of probes and systems on the
same folds, and a report that states the protocol and the per-fold spread. The clean-score CI
width under cv vs split is measured by benchmarks/bench_cv_ci.py."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.pipeline_repo import make_project, repro, tiny_params

pytestmark = pytest.mark.slow


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
    assert_cv_outputs(root, "handcrafted/ridge", "phase1/ridge_full", n_tracks=30, folds=5)


def assert_cv_outputs(root: Path, probe: str, system: str, n_tracks: int, folds: int) -> None:
    """What a cv run of the synth dataset leaves (usable on any such project, e.g. the e2e one):
    probe predictions for every track with their fold, the systems on the same folds, and a
    report, metrics.json and landing page that state the protocol and the per-fold spread."""
    manifest = pd.read_parquet(root / "data/prepared/synth/manifest.parquet")
    probes = pd.read_parquet(root / f"data/predictions/synth/{probe}/clean.parquet")
    systems = pd.read_parquet(root / f"data/systems/synth/{system}/gain@8.parquet")
    assert sorted(probes["track_id"]) == sorted(manifest["track_id"].astype(str))
    assert set(probes["fold"]) == set(range(folds))
    fold = probes.set_index("track_id")["fold"]
    assert (systems.set_index("track_id")["fold"] == fold.reindex(systems["track_id"])).all()
    page = (root / "reports/synth/index.html").read_text()
    assert f"{folds}-fold cross-validation" in page and "per fold" in page
    assert f"{n_tracks}</b> out-of-fold tracks" in page
    assert set(pd.read_csv(root / "reports/synth/tables/folds.csv")["fold"]) == set(range(folds))
    metrics = json.loads((root / "reports/synth/metrics.json").read_text())
    assert metrics["evaluation"] == {"protocol": "cv", "folds": folds, "repeats": 1}
    assert f"{n_tracks} out-of-fold tracks" in (root / "reports/index.html").read_text()
