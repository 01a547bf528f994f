"""Transitions a researcher makes between runs, each through the real `dvc repro` in a git repo.

One project (two encoders, a tiny synthetic corpus) is reproduced, then changed the way a user
changes it: nothing (nothing reruns), a forced rerun (byte-identical outputs), a shorter clip
(the embeddings change), an encoder removed (gone from the report and metrics), a new
`fx.input_level` (re-embedded; the report's gain staging table). A second project
brings its own data with `emofx data add`, and a fresh `git clone` + `dvc pull` gets the same data
hash back. Encoders and dataset formats have their own scenario files
(test_scenarios_encoders.py, test_scenarios_datasets.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from emofx.data_versioning import dataset_hash
from tests.pipeline_repo import make_project, repro, run, tiny_params

pytestmark = pytest.mark.slow

ENCODERS = ["handcrafted", "logmel"]


def small_params(**overrides) -> dict:
    return tiny_params(
        **{
            "synth.n_tracks": 24,
            "synth.clip_seconds": 3.0,
            "dataset.clip_seconds": 3.0,
            "dataset.split": {"train": 0.5, "val": 0.25, "test": 0.25},
            "fx.effects": ["gain"],
            "fx.levels": [8],
            "fx.loudness_match": False,
            "embed.encoders": ENCODERS,
            "embed.frames.enabled": False,
            "probe.probes": ["ridge"],
            "probe.tasks": ["regression"],
            "systems.phase1.enabled": False,
            "analysis.n_bootstrap": 100,
            **overrides,
        }
    )


def set_params(root: Path, **changes) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    for key, value in changes.items():
        node = params
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def digests(root: Path, *folders: str) -> dict[str, str]:
    """sha256 of every file under ``folders`` (relative path → digest)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted((root / folder).rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("scenario") / "proj", small_params())
    ran, out = repro(root)
    assert {"rates", "prepare", "embed@handcrafted", "embed@logmel", "analyze"} <= set(ran), out
    # a log file gets plain progress lines (no TTY here), and no Lightning banners
    assert re.search(r"embed handcrafted: 48/48 pairs \(100 %\), [\d.]+ pairs/s, done", out), out
    assert re.search(r"decoding synth: 24/24 tracks", out), out
    assert "GPU available" not in out and "litlogger" not in out, out
    return root


def test_a_second_repro_runs_nothing(project):
    ran, out = repro(project)
    assert ran == [], out


def test_a_forced_rerun_writes_byte_identical_outputs(project):
    before = digests(project, "data/predictions", "reports")
    ran, out = repro(project, "-f", "-s", "probe")
    ran2, out2 = repro(project, "-f", "-s", "analyze")
    assert ran == ["probe"] and ran2 == ["analyze"], out + out2
    after = digests(project, "data/predictions", "reports")
    assert sorted(after) == sorted(before)
    changed = sorted(k for k in before if before[k] != after[k])
    assert not changed, f"same inputs, different bytes: {changed}"


def test_a_shorter_clip_re_embeds(project):
    store = project / "data/embeddings/synth/handcrafted/clean.npy"
    before = np.load(store)
    set_params(project, **{"dataset.clip_seconds": 2.0})
    ran, out = repro(project)
    assert {"prepare", "embed@handcrafted", "embed@logmel", "probe", "analyze"} <= set(ran), out
    after = np.load(store)
    assert after.shape == before.shape
    assert not np.allclose(after, before), "clip_seconds changed but the embeddings did not"
    meta = json.loads((project / "data/embeddings/synth/handcrafted/meta.json").read_text())
    assert meta["inputs_hash"]


def test_a_new_input_level_re_embeds(project):
    """fx.input_level shapes every render, clean included: conditions and embeddings change (up
    to the embed stage only; the next transition reruns probe and analyze)."""
    store = project / "data/embeddings/synth/handcrafted"
    before = np.load(store / "clean.npy")
    set_params(project, **{"fx.input_level": "lufs:-14"})
    ran, out = repro(project, "embed@handcrafted")
    assert ran == ["conditions", "embed@handcrafted"], out
    assert not np.allclose(np.load(store / "clean.npy"), before)
    loudness = pd.read_parquet(store / "loudness.parquet")
    assert np.allclose(loudness.loc[loudness["condition"] == "clean", "lufs_out"], -14.0)
    gain = loudness[loudness["condition"] == "gain@8"]
    assert (gain["nonlinear_share"] < 1e-6).all()  # a pure gain


def test_a_removed_encoder_leaves_the_report_and_metrics(project):
    set_params(project, **{"embed.encoders": ["handcrafted"]})
    ran, out = repro(project)
    assert "embed@logmel" not in ran and "analyze" in ran, out
    assert (project / "data/embeddings/synth/logmel").is_dir()  # persisted, but not analysed
    for name in ("index.html", "metrics.json", "probe_metrics.json"):
        assert "logmel" not in (project / "reports/synth" / name).read_text(), name
    tables = project / "reports/synth/tables"
    for table in tables.glob("*.csv"):
        assert "logmel" not in table.read_text(), f"logmel still in {table.name}"


def test_the_report_shows_each_conditions_nonlinear_share(project):
    """After the input level changed (and the rerun of the transition above): the gain staging
    table says how much of each condition is more than a gain (gain@8: nothing)."""
    report = project / "reports/synth"
    staging = pd.read_csv(report / "tables/gain_staging.csv").set_index(["encoder", "condition"])
    gain = staging.loc[("handcrafted", "gain@8")]
    assert gain["nonlinear_share"] < 1e-6
    assert gain["lufs_change"] == pytest.approx(12.0, abs=0.01)
    assert gain["lufs_in"] == pytest.approx(-14.0, abs=1e-6)
    assert "Gain staging" in (report / "index.html").read_text()
    impact = pd.read_csv(report / "fx_impact.csv")
    assert (impact.loc[impact["analysis"] == "nonlinear_share", "condition"] == "gain@8").all()


def test_own_data_added_with_dvc_is_pulled_back_by_a_fresh_clone(project, tmp_path):
    """README "Your own data": `emofx data add`, commit, push; a clone pulls the same data."""
    remote = tmp_path / "remote"
    own = make_project(tmp_path / "own", small_params(**{"embed.encoders": ["handcrafted"]}))
    run(["dvc", "remote", "add", "-d", "-f", "local", str(remote)], own)
    run(["emofx", "data", "add", "mine", str(project / "data/raw/synth")], own)
    set_params(own, **{"dataset.name": "mine", "dataset.root": "data/raw/mine"})
    run(["git", "add", "-A"], own)
    run(["git", "commit", "-qm", "own data"], own)
    tracked = run(["git", "ls-files"], own).stdout.split()
    assert "data/raw/mine.dvc" in tracked and not any(
        f.startswith("data/raw/mine/") for f in tracked
    )
    ran, out = repro(own, "prepare")  # up to the stage that reads the data (the rest is above)
    assert ran == ["rates", "prepare"], out  # own data: the synthetic corpus is not generated
    assert not (own / "data/raw/synth").exists()
    digest = dataset_hash(own / "data/raw/mine")
    run(["dvc", "push"], own)
    run(["git", "add", "-A"], own)
    run(["git", "commit", "-qm", "results"], own)  # dvc.lock

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(own), str(clone)], tmp_path)
    run(["dvc", "pull", "--with-deps", "prepare"], clone)
    assert dataset_hash(clone / "data/raw/mine") == digest
    ran, out = repro(clone, "prepare")
    # the prepared audio is not in the DVC cache (never a second copy of it): a fresh clone
    # decodes again, byte for byte what the original decoded, so no later stage reruns
    assert ran == ["rates", "prepare"], out
    prepared = Path("data/prepared/mine")
    files = sorted(p.relative_to(own) for p in (own / prepared).rglob("*") if p.is_file())
    assert files and files == sorted(
        p.relative_to(clone) for p in (clone / prepared).rglob("*") if p.is_file()
    )
    assert all((own / f).read_bytes() == (clone / f).read_bytes() for f in files)
    assert "prepare" not in repro(clone, "prepare")[0]
