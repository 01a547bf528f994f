"""``emofx fx render``: never overwrites its input without ``--force``; silence is said plainly."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from emofx.audio import write_audio
from tests.pipeline_repo import REPO
from tests.test_cli_errors import assert_one_error_line, emofx

SR = 22_050


@pytest.fixture()
def project(tmp_path):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, (2, SR)).astype(np.float32)
    write_audio(tmp_path / "in.wav", noise, SR)
    write_audio(tmp_path / "silence.wav", np.zeros((2, SR), np.float32), SR)
    (tmp_path / "sub").mkdir()
    return tmp_path


@pytest.mark.parametrize("output", ["in.wav", "sub/../in.wav", "link.wav"])
def test_rendering_onto_the_input_is_refused(project, output):
    (project / "link.wav").symlink_to(project / "in.wav")
    before = (project / "in.wav").read_bytes()
    proc = emofx("fx", "render", "--condition", "distortion@7", "in.wav", output, cwd=project)
    assert_one_error_line(proc, "is the input file in.wav; give another output or --force")
    assert (project / "in.wav").read_bytes() == before


def test_force_overwrites_the_input(project):
    before = (project / "in.wav").read_bytes()
    proc = emofx(
        "fx", "render", "--force", "--condition", "distortion@7", "in.wav", "in.wav", cwd=project
    )
    assert proc.returncode == 0, proc.stderr
    assert (project / "in.wav").read_bytes() != before


def test_silent_input_says_loudness_is_undefined(project):
    proc = emofx(
        "fx", "render", "--condition", "gain@8+lufs", "silence.wav", "out.wav", cwd=project
    )
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stderr.split())  # the console may wrap
    assert "silent input (loudness undefined)" in text
    assert "nan" not in text
    assert (project / "out.wav").is_file()


def test_loudness_change_is_reported_for_sound(project):
    proc = emofx("fx", "render", "--condition", "gain@8", "in.wav", "out.wav", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "(loudness +" in proc.stderr and " LU)" in proc.stderr
