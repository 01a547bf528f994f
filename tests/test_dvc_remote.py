"""Shared data: a DVC remote (a local folder standing in for the team's SSH/S3 remote) that a
second clone pulls from; its `dvc repro` then runs no stage whose outputs came from the remote,
only what a change in the clone affects."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.pipeline_repo import make_project, repro, run, tiny_params

pytestmark = pytest.mark.slow


def test_a_second_clone_pulls_the_outputs_and_reruns_nothing(tmp_path):
    params = tiny_params(**{"synth.n_tracks": 12, "synth.clip_seconds": 2.0})
    first = make_project(tmp_path / "first", params)
    run(["dvc", "remote", "add", "-d", "team", str(tmp_path / "remote")], first)
    ran, _ = repro(first, "synth")
    assert ran == ["synth"]
    run(["git", "add", "-A"], first)
    run(["git", "commit", "-qm", "synth corpus; team remote"], first)
    run(["dvc", "push", "synth"], first)

    subprocess.run(["git", "clone", "-q", str(first), str(tmp_path / "second")], check=True)
    second = tmp_path / "second"
    run(["dvc", "pull", "synth"], second)  # the outputs of the stages that ran
    ran, out = repro(second, "synth")
    assert ran == [], out  # the corpus came from the remote: nothing to recompute
    corpus = params["synth"]["out"]
    files = sorted(
        p.relative_to(first / corpus) for p in (first / corpus).rglob("*") if p.is_file()
    )
    assert files and files == sorted(
        p.relative_to(second / corpus) for p in (second / corpus).rglob("*") if p.is_file()
    )
    assert all(
        (first / corpus / f).read_bytes() == (second / corpus / f).read_bytes() for f in files
    )
    assert "up to date" in run(["dvc", "status", "synth"], second).stdout
    # conditions.json is `cache: false` (never pushed): regenerated once, then up to date; a
    # change in the clone reruns what it affects and nothing that came from the remote
    assert repro(second, "synth", "conditions")[0] == ["conditions"]
    assert repro(second, "synth", "conditions")[0] == []
    changed = yaml.safe_load((second / "params.yaml").read_text())
    changed["fx"]["effects"] = ["gain"]
    (second / "params.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
    ran, out = repro(second, "synth", "conditions")
    assert ran == ["conditions"], out
