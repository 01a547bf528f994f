"""PMEmo2019 loader on a small folder in the release layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emofx.audio import write_audio
from emofx.datasets import load_dataset, read_dynamic, read_dynamic_curves


def write_pmemo(root: Path, static_rows: str) -> Path:
    (root / "chorus").mkdir(parents=True)
    (root / "annotations").mkdir()
    (root / "metadata.csv").write_text(
        "musicId,fileName,title,artist,album,duration,chorus_start_time,chorus_end_time\n"
        "1,1.mp3,Song A,Same Artist,X,200.0,01:00,01:30\n"
        "4,4.mp3,Song B,same artist ,X,180.0,00:40,01:10\n"
        "7,7.mp3,Song C,Other,Y,210.0,00:30,01:00\n"
        "9,9.mp3,Song D,Third,Z,190.0,00:20,00:50\n"
    )
    (root / "annotations" / "static_annotations.csv").write_text(
        "musicId,Arousal(mean),Valence(mean)\n" + static_rows
    )
    (root / "annotations" / "dynamic_annotations.csv").write_text(
        "musicId,frameTime,Arousal(mean),Valence(mean)\n"
        "1,15.5,0.6,0.3\n1,16.0,0.7,0.35\n4,15.5,0.2,0.2\n"
    )
    for music_id in (1, 4, 7):
        write_audio(root / "chorus" / f"{music_id}.mp3", np.zeros(8000, np.float32), 16000)
    return root


def test_static_targets_groups_and_rejections(tmp_path):
    root = write_pmemo(tmp_path, "1,0.8,0.25\n4,0.5,0.9\n7,0.1,0.6\n9,0.3,0.3\n")
    result = load_dataset("pmemo", root)
    m = result.manifest.set_index("track_id")
    assert list(m.index) == ["1", "4", "7"]
    assert m.loc["1", ["valence", "arousal"]].tolist() == [0.25, 0.8]
    assert m.loc["1", "valence_norm"] == pytest.approx(-0.5)
    assert m.loc["1", "quadrant"] == 2 and m.loc["7", "quadrant"] == 4
    assert pd.isna(m.loc["4", "quadrant"])  # valence 0.9, arousal exactly 0.5: neutral
    # the same artist (case/space-insensitive) is one group: it must not straddle splits
    assert m.loc["1", "group_id"] == m.loc["4", "group_id"] != m.loc["7", "group_id"]
    assert [(r.item_id, r.reason) for r in result.rejected] == [("9", "missing audio")]
    curve = read_dynamic(root, m.loc["1", "dynamic_ref"])
    assert curve["time_s"].tolist() == [15.5, 16.0] and curve["valence"].tolist() == [0.3, 0.35]
    assert m["dynamic_ref"].isna().tolist() == [False, False, True]
    curves = read_dynamic_curves(root, result.manifest)  # long form, normalised like the static
    assert curves["track_id"].tolist() == ["1", "1", "4"]
    assert curves["arousal_norm"].tolist() == pytest.approx([0.2, 0.4, -0.6])
    assert curves["valence_norm"].tolist() == pytest.approx([-0.4, -0.3, -0.6])
    by_song = load_dataset("pmemo", root, group_by="song").manifest
    assert by_song["group_id"].tolist() == ["1", "4", "7"]


def test_songs_without_labels_are_reported(tmp_path):
    root = write_pmemo(tmp_path, "1,0.8,0.25\n")
    result = load_dataset("pmemo", root)
    assert result.manifest["track_id"].tolist() == ["1"]
    reasons = sorted((r.item_id, r.reason) for r in result.rejected)
    assert reasons == [("4", "no annotation"), ("7", "no annotation"), ("9", "no annotation")]


def test_off_scale_rating_rejects_the_song_naming_it(tmp_path):
    root = write_pmemo(tmp_path, "1,0.8,0.25\n4,5.0,0.9\n")
    result = load_dataset("pmemo", root)
    assert result.manifest["track_id"].tolist() == ["1"]
    reasons = {r.item_id: r.reason for r in result.rejected}
    assert reasons["4"] == (
        "bad label: arousal=5 outside the PMEmo scale 0–1 (static_annotations.csv line 3)"
    )
    with pytest.raises(ValueError, match="group_by"):
        load_dataset("pmemo", root, group_by="album")
