"""On the synthetic corpus, through the real stages: raising the gain shifts predicted arousal,
and its loudness-matched twin removes most of that shift.

The synthetic arousal label depends on loudness among other cues and the handcrafted encoder
measures loudness, so a probe trained on clean audio reads louder audio as more aroused; matching
the loudness back to the clean input must take that shift away.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from tests.pipeline_repo import REPO, run, tiny_params

pytestmark = pytest.mark.slow

STAGES = ("synth", "rates", "prepare", "conditions", "embed", "probe", "analyze")


@pytest.fixture(scope="module")
def all_reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_corpus")
    params = tiny_params(
        **{
            "fx.effects": ["gain"],
            "fx.levels": [8],
            "fx.loudness_match": ["gain"],
            "synth.clip_seconds": 4.0,
            "dataset.clip_seconds": 4.0,
            # t-SNE: UMAP's numba compilation (~10 s) is paid by the fast tests already
            "analysis": {"n_bootstrap": 200, "projection": {"method": "tsne", "max_tracks": 12}},
        }
    )
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copytree(REPO / "lightning_configs", root / "lightning_configs")
    for stage in STAGES:
        run(["emofx", stage], root)  # 160 tracks: cross-validated (evaluation.protocol auto)
    shutil.copytree(root / "reports" / "synth", root / "cv")
    params["evaluation"]["protocol"] = "split"  # the same embeddings, one fixed split
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in ("probe", "analyze"):
        run(["emofx", stage], root)
    return {"cv": root / "cv", "split": root / "reports" / "synth"}


@pytest.mark.parametrize("protocol", ["cv", "split"])
def test_gain_shifts_arousal_and_loudness_matching_removes_it(all_reports, protocol):
    """The planted loudness cue is recovered under both protocols (cv: every track, out of fold)."""
    reports = all_reports[protocol]
    metrics = json.loads((reports / "metrics.json").read_text())
    assert metrics["evaluation"]["protocol"] == protocol
    shifts = pd.read_csv(reports / "tables" / "shifts.csv")
    arousal = shifts[shifts["quantity"] == "arousal"].set_index("condition")
    raw, matched = arousal.loc["gain@8"], arousal.loc["gain@8+lufs"]
    assert raw["shift"] > 0.03 and raw["q_value"] < 0.05, raw.to_dict()
    assert raw["ci_low"] > 0
    assert abs(matched["shift"]) < 0.25 * raw["shift"], matched.to_dict()
    control = pd.read_csv(reports / "tables" / "loudness_control.csv")
    row = control[control["quantity"] == "arousal"].iloc[0]
    assert (row["raw"], row["matched"], row["verdict"]) == ("gain@8", "gain@8+lufs", "removed")
    assert row["lufs_change_raw"] > 6 and abs(row["lufs_change_matched"]) < 0.5
    largest = metrics["largest_shift"]["handcrafted"]["xgboost"]["arousal"]
    assert largest["condition"] == "gain@8"
    assert largest["shift"] == pytest.approx(raw["shift"], abs=1e-4)
    assert "removed" in (reports / "index.html").read_text()
