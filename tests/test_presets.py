"""`emofx preset`: a protocol preset merged into params.yaml, validated, comments kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from emofx.config import ParamsError, load_params
from emofx.fx.conditions import build_conditions
from emofx.presets import apply_preset
from tests.pipeline_repo import REPO, make_project, run, tiny_params


@pytest.fixture
def params_copy(tmp_path, monkeypatch) -> Path:
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(REPO / "params", tmp_path / "params")
    shutil.copytree(REPO / "lightning_configs", tmp_path / "lightning_configs")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "params.yaml"


def test_paper_preset_sets_the_papers_protocol(params_copy):
    before = yaml.safe_load(params_copy.read_text())
    keys = apply_preset("paper", params_copy)
    assert {"dataset.clip_seconds", "fx.effects", "embed.encoders", "probe.layer"} <= set(keys)
    params = load_params(params_copy)
    assert params.dataset.clip_seconds == 15.0 and params.dataset.offset_s == 0.0
    assert params.dataset.name == before["dataset"]["name"]  # the user's dataset stays
    assert params.embed.encoders == ["mert330", "clap", "qwen2_audio_paper"]
    assert params.probe.probes == ["xgboost"] and params.probe.layer == -1
    ids = [c.id for c in build_conditions(params.fx)]
    # clean + 6 effects × 10 levels + 3 chains, no loudness-matched twins
    assert len(ids) == 64 and not any(i.endswith("+lufs") for i in ids)
    assert {"phaser@10", "eq@1", "chain:u2"} <= set(ids)
    text = params_copy.read_text()
    assert text.startswith("# emofx pipeline knobs")  # comments survive the merge
    assert "conditions: null" in text  # nulls stay null


def test_an_invalid_preset_leaves_params_yaml_untouched(params_copy, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("fx:\n  levels: [11]\n")
    before = params_copy.read_text()
    with pytest.raises(ParamsError, match=r"fx\.levels"):
        apply_preset(str(bad), params_copy)
    assert params_copy.read_text() == before
    with pytest.raises(ParamsError, match=r"preset 'nope' not found.*'paper'"):
        apply_preset("nope", params_copy)


def test_preset_command_then_dvc_sees_what_it_changed(tmp_path):
    project = make_project(tmp_path / "proj", tiny_params())
    out = run(["emofx", "preset", "paper"], project)
    assert "set 18 keys" in out.stderr + out.stdout
    run(["emofx", "check"], project)
    assert yaml.safe_load((project / "params.yaml").read_text())["fx"]["levels"] == list(
        range(1, 11)
    )
    diff = run(["git", "diff", "--stat"], project).stdout
    assert "params.yaml" in diff
