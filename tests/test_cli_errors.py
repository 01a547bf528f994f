"""Expected failures reach the user as one line ``emofx: error: …``; ``--debug`` shows the trace."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.pipeline_repo import BIN, REPO, set_dotted


def emofx(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlruns' / 'mlflow.db'}"}
    return subprocess.run(
        [str(BIN / "emofx"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def write_params(folder: Path, name: str = "params.yaml", **changes) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for key, value in changes.items():
        set_dotted(params, key, value)
    path = folder / name
    path.write_text(yaml.safe_dump(params))
    return path


def assert_one_error_line(proc: subprocess.CompletedProcess, expected: str, code: int = 1) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("emofx: error:")]
    assert len(errors) == 1, proc.stderr
    assert expected in errors[0]


@pytest.fixture(scope="module")
def emopia_project(tmp_path_factory) -> Path:
    """A project with a tiny EMOPIA-layout MIDI corpus and its sample rates, ready to prepare."""
    root = tmp_path_factory.mktemp("emopia")
    shutil.copytree(REPO / "lightning_configs", root / "lightning_configs")
    write_params(
        root,
        **{
            "synth.emopia.n_clips": 8,
            "synth.emopia.clip_seconds": 4.0,
            "dataset.format": "emopia",
            "dataset.root": "data/raw/synth-emopia",
        },
    )
    for args in (["synth", "--emopia"], ["rates"]):
        assert emofx(*args, cwd=root).returncode == 0
    (root / "data/raw/no_audio").mkdir()
    return root


def test_too_many_rejected_items_is_one_line(emopia_project):
    params = write_params(
        emopia_project,
        "rejected.yaml",
        **{
            "dataset.format": "emopia",
            "dataset.root": "data/raw/synth-emopia",
            "dataset.options": {"audio_dir": "../no_audio"},
        },
    )
    proc = emofx("prepare", "--params", str(params), cwd=emopia_project)
    assert_one_error_line(proc, "8 of 8 items rejected (100.0% > max_rejected_fraction 50.0%)")


def test_a_missing_soundfont_is_one_line_and_debug_shows_the_traceback(emopia_project):
    params = write_params(
        emopia_project,
        "nofont.yaml",
        **{
            "dataset.format": "emopia",
            "dataset.root": "data/raw/synth-emopia",
            "dataset.options": {"soundfont": "/nonexistent/font.sf2"},
        },
    )
    proc = emofx("prepare", "--params", str(params), cwd=emopia_project)
    assert_one_error_line(proc, "soundfont not found: /nonexistent/font.sf2")
    debug = emofx("--debug", "prepare", "--params", str(params), cwd=emopia_project)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "RendererMissingError" in debug.stderr


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"mlflow.tracking_uri": "foo://bar"},
            "params.yaml: mlflow.tracking_uri: unsupported scheme 'foo'",
        ),
        ({"dataset.clip_seconds": float("inf")}, "params.yaml: dataset.clip_seconds: "),
    ],
)
def test_bad_params_that_used_to_pass_check_are_one_line(tmp_path, changes, expected):
    write_params(tmp_path, **changes)
    shutil.copytree(REPO / "lightning_configs", tmp_path / "lightning_configs")
    proc = emofx("check", cwd=tmp_path)
    assert_one_error_line(proc, expected, code=2)
