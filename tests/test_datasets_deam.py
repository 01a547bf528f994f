"""DEAM loader on the real deam-mini release layout and on small hand-made layouts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
import pytest

from emofx.audio import write_audio
from emofx.datasets import DATASETS, load_dataset
from emofx.datasets.config import DatasetFormat
from emofx.datasets.deam import DYNAMIC_DIR, STATIC_FILES, read_dynamic
from emofx.datasets.files import DatasetLayoutError

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEAM_MINI = SHARED / "data" / "deam-mini"
MINI_IDS = {"2", "3", "4", "5", "7", "8", "10", "12", "13", "17"}

needs_deam_mini = pytest.mark.skipif(
    not DEAM_MINI.is_dir(), reason=f"real DEAM sample not found at {DEAM_MINI}"
)


def write_deam_layout(root: Path, static: dict[int, tuple[float, float]], audio_ids) -> Path:
    """A DEAM-layout folder with the release's header quirks and 0.5-s tone clips."""
    small = {k: v for k, v in static.items() if k <= 2000}
    big = {k: v for k, v in static.items() if k > 2000}
    (root / STATIC_FILES[0]).parent.mkdir(parents=True)
    lines = ["song_id, valence_mean, valence_std, arousal_mean, arousal_std"]
    lines += [f"{k},{v},1.0,{a},1.0" for k, (v, a) in small.items()]
    (root / STATIC_FILES[0]).write_text("\n".join(lines) + "\n")
    lines = ["song_id, valence_mean, valence_std, valence_ max_mean, arousal_mean, arousal_std"]
    lines += [f"{k},{v},1.0,8.0,{a},1.0" for k, (v, a) in big.items()]
    (root / STATIC_FILES[1]).write_text("\n".join(lines) + "\n")
    (root / "MEMD_audio").mkdir()
    tone = 0.1 * np.sin(np.linspace(0, 2 * np.pi * 220, 11025)).astype(np.float32)
    for song_id in audio_ids:
        write_audio(root / "MEMD_audio" / f"{song_id}.wav", tone, 22050)
    return root


def test_registry_matches_the_config_formats():
    assert set(DATASETS) == set(get_args(DatasetFormat))


@needs_deam_mini
def test_real_static_annotations_load_with_audio_facts():
    result = load_dataset("deam", DEAM_MINI)
    m = result.manifest.set_index("track_id")
    assert set(m.index) == MINI_IDS
    assert m.loc["2", ["valence", "arousal"]].tolist() == [3.1, 3.0]
    assert m.loc["2", "valence_norm"] == pytest.approx(-0.475)
    assert m.loc["2", "quadrant"] == 3
    assert m.loc["4", "quadrant"] == 1  # 5.7 / 5.5 → +V +A
    assert m["duration_s"].between(44.9, 45.2).all()
    assert (m["sample_rate"] == 44100).all() and m["audio_path"].str.startswith("MEMD_audio/").all()
    assert m["group_id"].equals(m.index.to_series().astype("string").rename("group_id"))
    assert m["split"].isna().all()
    # all 1802 annotated songs are accounted for: 10 kept, the rest reported as missing audio
    rejected = result.rejected_frame()
    assert len(rejected) == 1802 - 10
    assert set(rejected["reason"]) == {"missing audio"}
    assert "2058" in set(rejected["item_id"])  # from the 2000_2058 file with extra columns


@needs_deam_mini
def test_real_subset_selection_by_mediaeval_year():
    r2013 = load_dataset("deam", DEAM_MINI, subsets=[2013])
    assert len(r2013.manifest) == 10 and len(r2013.rejected) == 744 - 10
    r2015 = load_dataset("deam", DEAM_MINI, subsets=[2015])
    assert r2015.manifest.empty and len(r2015.rejected) == 58
    with pytest.raises(ValueError, match="2016"):
        load_dataset("deam", DEAM_MINI, subsets=[2016])


@needs_deam_mini
def test_real_dynamic_targets_are_curve_means():
    result = load_dataset("deam-dynamic", DEAM_MINI)
    m = result.manifest.set_index("track_id")
    assert set(m.index) == MINI_IDS
    assert len(result.rejected) == 744 - 10
    raw = pd.read_csv(DEAM_MINI / DYNAMIC_DIR / "valence.csv", index_col="song_id")
    assert m.loc["2", "valence"] == pytest.approx(np.nanmean(raw.loc[2].to_numpy()))
    assert m.loc["2", "valence_norm"] == m.loc["2", "valence"]  # native scale is [-1, 1]
    curve = read_dynamic(DEAM_MINI, m.loc["2", "dynamic_ref"])
    assert list(curve.columns) == ["time_s", "valence", "arousal"]
    assert curve["time_s"].iloc[0] == 15.0 and np.allclose(np.diff(curve["time_s"]), 0.5)
    assert curve["valence"].mean() == pytest.approx(m.loc["2", "valence"])
    assert json.loads(m.loc["2", "dynamic_ref"])["song_id"] == 2


def test_audio_without_annotation_and_annotation_without_audio_are_reported(tmp_path):
    root = write_deam_layout(
        tmp_path, {2: (3.0, 7.0), 5: (6.0, 6.0), 2001: (5.0, 8.0)}, [2, 9, 2001]
    )
    result = load_dataset("deam", root)
    m = result.manifest.set_index("track_id")
    assert set(m.index) == {"2", "2001"}
    assert m.loc["2", "quadrant"] == 2 and pd.isna(m.loc["2001", "quadrant"])  # valence 5 neutral
    assert m.loc["2", "sample_rate"] == 22050 and m.loc["2", "audio_path"] == "MEMD_audio/2.wav"
    assert pd.isna(m.loc["2", "dynamic_ref"])  # this layout has no dynamic annotations
    reasons = {r.item_id: r.reason for r in result.rejected}
    assert reasons == {"5": "missing audio", "9": "no annotation"}


def test_missing_annotation_column_names_the_file(tmp_path):
    root = write_deam_layout(tmp_path, {2: (3.0, 7.0)}, [2])
    path = root / STATIC_FILES[0]
    path.write_text(path.read_text().replace("arousal_mean", "arousal_avg"))
    with pytest.raises(
        DatasetLayoutError, match=r"static_annotations_averaged_songs_1_2000.*arousal"
    ):
        load_dataset("deam", root)


def test_non_numeric_rating_rejects_the_song_naming_file_line_and_value(tmp_path):
    root = write_deam_layout(tmp_path, {2: (3.0, 7.0), 3: (4.0, 4.0)}, [2])
    path = root / STATIC_FILES[0]
    path.write_text(path.read_text().replace("3,4.0", "3,four"))
    result = load_dataset("deam", root)
    assert list(result.manifest["track_id"]) == ["2"]
    [bad] = result.rejected
    assert (bad.item_id, bad.reason) == (
        "3",
        "bad label: valence='four' is not a number "
        "(static_annotations_averaged_songs_1_2000.csv line 3)",
    )


def test_duplicate_song_id_across_files_rejects_the_song(tmp_path):
    root = write_deam_layout(tmp_path, {2: (3.0, 7.0), 2001: (5.0, 5.0)}, [2])
    path = root / STATIC_FILES[1]
    path.write_text(path.read_text() + "2,3.0,1.0,8.0,7.0,1.0\n")
    result = load_dataset("deam", root)
    assert result.manifest.empty
    reasons = {r.item_id: r.reason for r in result.rejected}
    assert reasons["2"].startswith("duplicate annotation: song 2 is annotated more than once")


def test_missing_audio_folder_and_bad_options_are_clear(tmp_path):
    root = write_deam_layout(tmp_path, {2: (3.0, 7.0)}, [])
    (root / "MEMD_audio").rmdir()
    with pytest.raises(DatasetLayoutError, match="MEMD_audio"):
        load_dataset("deam", root)
    with pytest.raises(TypeError, match=r"no option\(s\) \['subset'\].*subsets"):
        load_dataset("deam", root, subset=[2013])
    with pytest.raises(KeyError, match="unknown dataset format 'dean'"):
        load_dataset("dean", root)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_dataset("deam", tmp_path / "nowhere")


def test_corrupt_audio_is_rejected_with_the_decoder_reason(tmp_path):
    root = write_deam_layout(tmp_path, {2: (3.0, 7.0), 3: (4.0, 4.0)}, [2])
    (root / "MEMD_audio" / "3.mp3").write_bytes(b"not an mp3 at all" * 10)
    result = load_dataset("deam", root)
    assert list(result.manifest["track_id"]) == ["2"]
    [bad] = result.rejected
    assert bad.item_id == "3" and bad.reason.startswith("unreadable audio")


def test_zero_byte_audio_and_ambiguous_audio_are_rejected(tmp_path):
    root = write_deam_layout(tmp_path, {2: (3.0, 7.0), 3: (4.0, 4.0)}, [2])
    (root / "MEMD_audio" / "3.mp3").write_bytes(b"")
    [bad] = load_dataset("deam", root).rejected
    assert (bad.item_id, bad.reason) == (
        "3",
        f"unreadable audio: {root}/MEMD_audio/3.mp3: zero-byte file",
    )
    (root / "MEMD_audio" / "2.mp3").write_bytes(b"x")
    reasons = {r.item_id: r.reason for r in load_dataset("deam", root).rejected}
    assert reasons["2"] == "ambiguous audio: two files for id '2' (2.mp3, 2.wav)"
