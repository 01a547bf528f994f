"""The prepare stage: manifest + rejected list + decode-once audio cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from emofx.audio import load_audio, write_audio
from emofx.data_versioning import dataset_hash
from emofx.datasets.config import DatasetParams
from emofx.datasets.manifest import MANIFEST_COLUMNS
from emofx.prepare import (
    TooManyRejectedError,
    load_prepared_audio,
    prepare,
    prepared_audio_path,
    safe_id,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEAM_MINI = SHARED / "data" / "deam-mini"
needs_deam_mini = pytest.mark.skipif(
    not DEAM_MINI.is_dir(), reason=f"real DEAM sample not found at {DEAM_MINI}"
)


def deam_params(**overrides) -> DatasetParams:
    base = dict(
        name="deam-mini",
        format="deam",
        root=DEAM_MINI,
        clip_seconds=2.0,
        offset_s=1.0,
        max_rejected_fraction=1.0,
        workers=2,
    )
    return DatasetParams(**{**base, **overrides})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    if not DEAM_MINI.is_dir():
        pytest.skip(f"real DEAM sample not found at {DEAM_MINI}")
    out = tmp_path_factory.mktemp("prepared")
    return out, prepare(deam_params(), out, sample_rates=[16000, 8000], seed=7)


def test_manifest_and_rejected_files_are_written(prepared):
    out, manifest = prepared
    on_disk = pd.read_parquet(out / "manifest.parquet")
    assert tuple(on_disk.columns) == MANIFEST_COLUMNS
    pd.testing.assert_frame_equal(on_disk, manifest)
    assert len(manifest) == 10 and (manifest["dataset"] == "deam-mini").all()
    assert on_disk.attrs["dataset"] == "deam-mini" and on_disk.attrs["format"] == "deam"
    assert on_disk.attrs["data_hash"] == dataset_hash(DEAM_MINI)
    assert on_disk.attrs["data_hash"].endswith(".dir")
    assert set(manifest["split"]) == {"train", "val", "test"}
    assert (manifest.groupby("group_id")["split"].nunique() == 1).all()
    rejected = pd.read_csv(out / "rejected.csv", dtype=str)
    assert list(rejected.columns) == ["item_id", "path", "reason"]
    assert len(rejected) == 1792 and set(rejected["reason"]) == {"missing audio"}
    curves = pd.read_parquet(out / "dynamic.parquet")  # DEAM's 2-Hz curves: 15 s … 45 s
    assert curves.groupby("track_id").size().to_dict() == {t: 61 for t in manifest["track_id"]}
    assert curves["time_s"].min() == 15.0 and curves["time_s"].max() == 45.0
    np.testing.assert_allclose(curves["valence_norm"], curves["valence"])  # already in [-1, 1]


def test_cache_holds_the_trimmed_mono_audio_at_each_rate(prepared):
    out, manifest = prepared
    for sr in (8000, 16000):
        for track_id in manifest["track_id"]:
            audio = load_prepared_audio(out, sr, track_id)
            assert audio.dtype == np.float32 and audio.shape == (2 * sr,)
    direct = load_audio(DEAM_MINI / "MEMD_audio" / "7.mp3", 16000, offset_s=1.0, duration_s=2.0)
    got = load_prepared_audio(out, 16000, "7")  # 16-bit PCM: within half a step of the decode
    np.testing.assert_allclose(got, direct, rtol=0, atol=0.5 / 32768 + 1e-9)
    assert prepared_audio_path(out, 16000, "7").stat().st_size <= 2 * 2 * 16000 + 128
    assert prepared_audio_path(out, 16000, "7") == out / "audio" / "16000" / "7.npy"
    with pytest.raises(FileNotFoundError, match="22050 Hz"):
        load_prepared_audio(out, 22050, "7")


@needs_deam_mini
def test_same_seed_same_splits_and_too_many_rejections_raise(tmp_path, prepared):
    _, first = prepared
    again = prepare(deam_params(workers=1), tmp_path / "a", [8000], seed=7, data_hash="h.dir")
    assert again["split"].equals(first["split"])
    assert pd.read_parquet(tmp_path / "a" / "manifest.parquet").attrs["data_hash"] == "h.dir"
    with pytest.raises(TooManyRejectedError, match=r"1792 of 1802 .*missing audio.*rejected.csv"):
        prepare(deam_params(max_rejected_fraction=0.5), tmp_path / "b", [8000], seed=7)
    assert (tmp_path / "b" / "rejected.csv").is_file()  # written before raising, for inspection
    assert not (tmp_path / "b" / "audio").exists()  # failed before spending time on decoding


@needs_deam_mini
def test_tracks_shorter_than_min_seconds_are_rejected(tmp_path):
    manifest = prepare(
        deam_params(min_seconds=50.0, options={"subsets": [2013]}),
        tmp_path,
        [8000],
        seed=0,
    )
    assert manifest.empty
    rejected = pd.read_csv(tmp_path / "rejected.csv", dtype=str)
    short = rejected[rejected["reason"].str.startswith("too short")]
    assert len(short) == 10 and short["reason"].str.contains("min_seconds 50").all()


def test_undecodable_audio_is_rejected_not_fatal(tmp_path, monkeypatch):
    root = tmp_path / "csvset"
    root.mkdir()
    ids = ("ok1", "ok2", "ok3", "bad")
    for track_id in ids:
        write_audio(root / f"{track_id}.wav", np.full(800, 0.1, np.float32), 8000)
    from emofx.datasets import DATASETS
    from emofx.datasets.manifest import LoadResult, manifest_frame

    rows = [
        {"track_id": t, "group_id": t, "audio_path": f"{t}.wav", "duration_s": 0.1} for t in ids
    ]
    monkeypatch.setitem(DATASETS, "csv", lambda root: LoadResult(manifest_frame(rows)))
    (root / "bad.wav").write_bytes(b"RIFF....garbage")  # header probe passed, decoding fails
    params = DatasetParams(
        name="t",
        format="csv",
        root=root,
        workers=1,
        max_rejected_fraction=0.5,
        split={"train": 0.5, "val": 0.0, "test": 0.5},
    )
    manifest = prepare(params, tmp_path / "out", [8000], seed=0)
    assert sorted(manifest["track_id"]) == ["ok1", "ok2", "ok3"]
    rejected = pd.read_csv(tmp_path / "out" / "rejected.csv", dtype=str)
    assert rejected["item_id"].tolist() == ["bad"]
    assert (
        rejected["reason"].iloc[0].startswith("decode failed")
        and "bad.wav" in rejected["reason"].iloc[0]
    )
    assert not prepared_audio_path(tmp_path / "out", 8000, "bad").exists()


def test_safe_ids_are_file_names_and_do_not_clash():
    assert safe_id("Q1_abc-_d_0") == "Q1_abc-_d_0"
    a, b = safe_id("rock/1 a"), safe_id("rock_1 a")
    assert a != b and "/" not in a and " " not in a and a.startswith("rock_1_a-")


def test_params_reject_bad_values_with_the_field_named():
    with pytest.raises(ValidationError, match="sum to 1"):
        deam_params(split={"train": 0.8, "val": 0.2, "test": 0.2})
    with pytest.raises(ValidationError, match="format"):
        deam_params(format="deem")
    with pytest.raises(ValidationError, match="clip_seconds"):
        deam_params(clip_seconds=0)
    with pytest.raises(ValidationError, match="colour"):
        deam_params(colour="red")
