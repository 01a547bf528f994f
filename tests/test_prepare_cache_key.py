"""The manifest is the embed stage's key to the prepared audio: it changes with what shapes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from emofx.cli import file_digest
from emofx.datasets.config import DatasetParams
from emofx.datasets.synth import generate_corpus
from emofx.prepare import load_prepared_audio, prepare


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus") / "synth"
    generate_corpus(root, n_tracks=4, clip_seconds=4.0, seed=1, sample_rate=22050, workers=1)
    return root


def _prepare(root: Path, out: Path, **overrides) -> str:
    base = dict(name="synth", format="deam", root=root, clip_seconds=3.0, workers=1)
    prepare(DatasetParams(**{**base, **overrides}), out, sample_rates=[8000], seed=3)
    return file_digest(out / "manifest.parquet")


@pytest.mark.parametrize("change", [{"clip_seconds": 2.0}, {"offset_s": 0.5}])
def test_manifest_digest_changes_with_what_shapes_the_audio(corpus, tmp_path, change):
    before = _prepare(corpus, tmp_path / "a")
    after = _prepare(corpus, tmp_path / "b", **change)
    a = load_prepared_audio(tmp_path / "a", 8000, "1")
    b = load_prepared_audio(tmp_path / "b", 8000, "1")
    assert a.shape != b.shape or (a != b).any(), "the prepared audio itself differs"
    assert after != before, (
        f"{change}: same manifest digest, the embed stage would reuse stale audio"
    )


def test_manifest_digest_is_stable_for_the_same_inputs(corpus, tmp_path):
    assert _prepare(corpus, tmp_path / "a") == _prepare(corpus, tmp_path / "b")
