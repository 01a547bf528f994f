"""``emofx check`` refuses what a later stage would only fail on, one line naming the key."""

from __future__ import annotations

import shutil

import pytest

from tests.pipeline_repo import REPO
from tests.test_cli_errors import assert_one_error_line, emofx, write_params


@pytest.fixture()
def project(tmp_path):
    shutil.copytree(REPO / "lightning_configs", tmp_path / "lightning_configs")
    return tmp_path


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"seed": -1}, "params.yaml: seed: -1 is outside 0 ≤ seed < 2**32"),
        ({"seed": 2**70}, f"params.yaml: seed: {2**70} is outside 0 ≤ seed < 2**32"),
        ({"dataset.clip_seconds": float("inf")}, "params.yaml: dataset.clip_seconds: "),
        ({"dataset.clip_seconds": float("nan")}, "params.yaml: dataset.clip_seconds: "),
        (
            {"fx.levels": []},
            "params.yaml: fx.levels: empty, no FX condition would be rendered; "
            "give at least one level 1-10",
        ),
        (
            {"fx.effects": [], "fx.chains": [], "fx.loudness_match": True},
            "params.yaml: fx: no FX condition would be rendered",
        ),
        (
            {"embed.frames.conditions": ["reverb@2", "reverb@5"]},
            "params.yaml: embed.frames.conditions: 'reverb@5' is not a condition of the fx section",
        ),
    ],
)
def test_values_a_stage_would_fail_on_are_refused(project, changes, expected):
    write_params(project, **changes)
    assert_one_error_line(emofx("check", cwd=project), expected, code=2)


def test_finite_values_name_the_key_with_the_value(project):
    write_params(project, **{"dataset.clip_seconds": float("inf")})
    proc = emofx("check", cwd=project)
    assert "dataset.clip_seconds: inf is not a finite number" in proc.stderr


@pytest.mark.parametrize(
    "changes",
    [
        {"seed": 2**32 - 1},
        {"seed": 0},
        {"fx.effects": [], "fx.levels": [], "fx.loudness_match": False},  # chains only
        {"embed.frames.conditions": ["reverb@2", "chain:u2", "gain@8+lufs"]},
    ],
)
def test_sensible_edge_values_pass(project, changes):
    write_params(project, **changes)
    proc = emofx("check", cwd=project)
    assert proc.returncode == 0, proc.stderr


def test_a_binary_params_file_is_named(project):
    path = project / "params.yaml"
    path.write_bytes(b"\xf5\x00\xff binary \x80 junk")
    assert_one_error_line(emofx("check", cwd=project), f"{path.name}: not a UTF-8 text file", 2)
