"""`emofx data add`: DVC tracking without a second copy, hashes for lineage, pull restores."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from dvc.repo import Repo

from emofx.data_versioning import DataVersioningError, data_add, dataset_hash

REPO = Path(__file__).resolve().parents[1]
LINK_TYPES = "reflink,hardlink,symlink,copy"  # the project's .dvc/config


def make_repo(root: Path, remote: Path | None = None) -> Path:
    """A git + DVC repository with the project's .gitignore, as `git clone` of emofx gives."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    Repo.init(str(root)).close()
    with Repo(str(root)) as repo, repo.config.edit() as conf:
        conf["cache"]["type"] = LINK_TYPES
        if remote is not None:
            conf["core"]["remote"] = "local"
            conf["remote"]["local"] = {"url": str(remote)}
    return root


def make_dataset(folder: Path) -> Path:
    (folder / "MEMD_audio").mkdir(parents=True)
    (folder / "MEMD_audio" / "2.mp3").write_bytes(b"fake audio bytes" * 100)
    (folder / "annotations.csv").write_text("song_id,valence\n2,3.1\n")
    return folder


def cache_file(repo_root: Path, workspace_file: Path) -> Path:
    matches = [
        p
        for p in (repo_root / ".dvc" / "cache").rglob("*")
        if p.is_file() and p.read_bytes() == workspace_file.read_bytes()
    ]
    assert matches, f"{workspace_file} is not in the DVC cache"
    return matches[0]


def test_external_folder_is_tracked_without_a_second_copy(tmp_path):
    repo_root = make_repo(tmp_path / "repo", remote=tmp_path / "remote")
    original = make_dataset(tmp_path / "downloads" / "DEAM")
    digest = data_add("deam", original, repo_root)

    tracked = repo_root / "data" / "raw" / "deam"
    assert digest.endswith(".dir") and len(digest) == 36
    assert (repo_root / "data" / "raw" / "deam.dvc").read_text().count(digest) == 1
    audio = tracked / "MEMD_audio" / "2.mp3"
    # one inode for the original, the workspace file and the cache object: no doubled disk use
    assert os.path.samefile(audio, original / "MEMD_audio" / "2.mp3")
    assert os.path.samefile(audio, cache_file(repo_root, audio))
    assert dataset_hash(tracked) == digest  # from the .dvc file
    assert dataset_hash(original) == digest  # computed, DVC's algorithm


def test_fresh_checkout_pulls_the_same_data_back(tmp_path):
    remote = tmp_path / "remote"
    repo_root = make_repo(tmp_path / "repo", remote=remote)
    make_dataset(repo_root / "data" / "raw" / "deam")
    digest = data_add("deam", repo_root / "data" / "raw" / "deam", repo_root)
    assert any(remote.rglob("*")), "data_add pushes to the default remote"
    git = ["git", "-c", "user.email=t@emofx", "-c", "user.name=t"]
    subprocess.run([*git, "-C", str(repo_root), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(repo_root), "commit", "-qm", "deam"], check=True)
    committed = subprocess.run(
        ["git", "-C", str(repo_root), "ls-files"], check=True, capture_output=True, text=True
    ).stdout.split()
    assert "data/raw/deam.dvc" in committed, committed
    assert not any(f.startswith("data/raw/deam/") for f in committed), "the data stays out of git"

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo_root), str(clone)], check=True)
    with Repo(str(clone)) as repo:
        repo.pull()
    pulled = clone / "data" / "raw" / "deam"
    assert (pulled / "annotations.csv").read_text() == "song_id,valence\n2,3.1\n"
    assert dataset_hash(pulled) == digest


def test_hash_changes_with_content_and_reads_dvc_lock(tmp_path):
    folder = make_dataset(tmp_path / "ds")
    before = dataset_hash(folder)
    (folder / "annotations.csv").write_text("song_id,valence\n2,3.2\n")
    assert dataset_hash(folder) != before
    repo_root = make_repo(tmp_path / "repo")
    (repo_root / "data" / "raw" / "synth").mkdir(parents=True)
    (repo_root / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  synth:\n    cmd: emofx synth\n    outs:\n"
        "    - path: data/raw/synth\n      hash: md5\n      md5: 0123abcd.dir\n"
    )
    assert dataset_hash(repo_root / "data" / "raw" / "synth") == "0123abcd.dir"


def test_bad_input_is_named(tmp_path):
    repo_root = make_repo(tmp_path / "repo")
    data = make_dataset(tmp_path / "ds")
    with pytest.raises(ValueError, match="dataset name 'my data'"):
        data_add("my data", data, repo_root)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data_add("deam", tmp_path / "nowhere", repo_root)
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataVersioningError, match="not a DVC repository"):
        data_add("deam", data, tmp_path / "plain")
    data_add("deam", data, repo_root)
    with pytest.raises(DataVersioningError, match=r"data/raw/deam already exists"):
        data_add("deam", data, repo_root)
