"""Bad params.yaml → one clear line per problem naming the key, before any stage does work."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from emofx.config import ParamsError, load_params
from tests.pipeline_repo import REPO


def write(tmp_path, **changes):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for dotted, value in changes.items():
        node = params
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_the_repository_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params.dataset.format == "deam" and params.embed.encoders


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"fx.effects": ["reverb", "reverbb"]}, "fx.effects.1: unknown effect 'reverbb'"),
        ({"fx.levels": [3, 11]}, "fx.levels.1: level 11 outside 1-10"),
        ({"synth.n_tracks": -5}, "synth.n_tracks: Input should be greater than 0"),
        ({"probe.bogus": 1}, "probe.bogus: unknown key"),
        ({"dataset.split": {"train": 0.9, "val": 0.2, "test": 0.1}}, "dataset.split: "),
        (
            {"embed.frames": {"enabled": False}},
            "params.yaml: probe.tasks: 'dynamic' needs embed.frames.enabled: true",
        ),
        ({"embed.frames": {"hop_s": 0}}, "embed.frames.hop_s: Input should be greater than 0"),
    ],
)
def test_invalid_values_name_their_key(tmp_path, changes, expected):
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, **changes))
    assert expected in str(err.value)
    assert len(str(err.value).splitlines()) == 1


def test_a_missing_dataset_folder_is_reported_before_work_starts(tmp_path, monkeypatch):
    path = write(
        tmp_path,
        **{"dataset.root": "no/such/folder", "embed.config_dir": str(REPO / "lightning_configs")},
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParamsError, match=r"dataset.root: no/such/folder does not exist"):
        load_params(path, check_paths=True)


def test_the_cli_prints_one_error_line_and_exits_2(tmp_path):
    path = write(tmp_path, **{"fx.effects": ["reverbb"]})
    proc = subprocess.run(
        [sys.executable, "-m", "emofx.cli", "prepare", "--params", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("emofx: error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"emofx: error: {path}: fx.effects.0: unknown effect 'reverbb'")
    assert "(known: reverb, delay, distortion" in errors[0]
    assert not (tmp_path / "data").exists()
