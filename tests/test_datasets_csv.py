"""Generic CSV loader (witheFlow style): scalar or listed ratings, ';'-separated labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emofx.audio import write_audio
from emofx.datasets import load_dataset
from emofx.datasets.files import DatasetLayoutError

HEADER = "filename,artist,valence,arousal,labels,split\n"


def write_csv_dataset(root: Path, rows: str, files=("a.wav", "b.wav", "sub/c.wav")) -> Path:
    for name in files:
        (root / "audio" / name).parent.mkdir(parents=True, exist_ok=True)
        write_audio(root / "audio" / name, np.zeros(4000, np.float32), 8000)
    (root / "annotations.csv").write_text(HEADER + rows)
    return root


def test_ratings_lists_labels_groups_and_splits(tmp_path):
    root = write_csv_dataset(
        tmp_path,
        'a.wav,X,"[6, 8, 7]",3,calm;tender,train\n'
        "b.wav,X,2,8,power:0.75;tension:0.25,validation\n"
        "sub/c.wav,Y,4;6,,,test\n",
    )
    result = load_dataset(
        "csv", root, audio_dir="audio", group_column="artist", split_column="split", scale=[1, 9]
    )
    m = result.manifest.set_index("track_id")
    assert list(m.index) == ["a", "b", "c"]  # the file name without extension, not its folders
    assert m.loc["a", "valence"] == 7.0 and m.loc["a", "arousal"] == 3.0
    assert m.loc["a", "valence_norm"] == 0.5 and m.loc["a", "quadrant"] == 4
    assert m.loc["b", "quadrant"] == 2
    assert m.loc["c", "valence"] == 5.0 and pd.isna(m.loc["c", "arousal"])
    assert pd.isna(m.loc["c", "quadrant"]) and pd.isna(m.loc["c", "labels"])
    assert json.loads(m.loc["a", "labels"]) == {"calm": 1.0, "tender": 1.0}
    assert json.loads(m.loc["b", "labels"]) == {"power": 0.75, "tension": 0.25}
    assert m["group_id"].tolist() == ["X", "X", "Y"]
    assert m["split"].tolist() == ["train", "val", "test"]
    assert m.loc["c", "audio_path"] == "audio/sub/c.wav"
    assert result.rejected == []


def test_missing_audio_is_reported(tmp_path):
    root = write_csv_dataset(tmp_path, "a.wav,X,0.5,0.5,,\nmissing.wav,X,0.1,0.1,,\n")
    result = load_dataset("csv", root, audio_dir="audio")
    assert result.manifest["track_id"].tolist() == ["a"]
    assert [(r.item_id, r.path, r.reason) for r in result.rejected] == [
        ("missing", "audio/missing.wav", "missing audio")
    ]


@pytest.mark.parametrize(
    ("rows", "options", "reason"),
    [
        ("b.wav,X,7,3,,\n", {}, "bad label: valence=7 outside the scale -1–1"),
        ("b.wav,X,high,3,,\n", {"scale": [1, 9]}, "bad label: valence='high' is not a rating"),
        ("b.wav,X,nan,3,,\n", {"scale": [1, 9]}, "bad label: valence=nan is not a finite"),
        ("b.wav,X,5,3,calm:lots,\n", {"scale": [1, 9]}, "weight 'lots' of labels 'calm'"),
        ("b.wav,X,,,,\n", {"scale": [1, 9]}, "missing label: no value in"),
        ("b.wav,X,5,3,,holdout\n", {"scale": [1, 9], "split_column": "split"}, "split='holdout'"),
        (
            "x/b.wav,X,5,3,,\ny/b.wav,X,5,3,,\n",
            {"scale": [1, 9]},
            "duplicate track id: 'b' is also",
        ),
    ],
)
def test_a_bad_row_is_rejected_with_its_line_and_the_rest_is_kept(tmp_path, rows, options, reason):
    root = write_csv_dataset(tmp_path, "a.wav,X,1,1,,\n" + rows)
    if "split_column" in options:
        (root / "annotations.csv").write_text(
            (root / "annotations.csv").read_text().replace("1,1,,\n", "1,1,,train\n")
        )
    result = load_dataset("csv", root, audio_dir="audio", **options)
    assert result.manifest["track_id"].tolist() == ["a"]
    assert result.rejected and all(reason in r.reason for r in result.rejected)
    assert all("(annotations.csv line " in r.reason for r in result.rejected)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"group_column": "singer"}, r"missing column\(s\) \['singer'\]"),
        ({"scale": [9, 1]}, r"'scale' must be \[low, high\]"),
    ],
)
def test_bad_options_are_named(tmp_path, options, message):
    root = write_csv_dataset(tmp_path, "a.wav,X,5,3,,\n")
    with pytest.raises((DatasetLayoutError, ValueError), match=message):
        load_dataset("csv", root, audio_dir="audio", **options)


def test_a_csv_without_any_target_column_is_an_error(tmp_path):
    root = write_csv_dataset(tmp_path, "")
    (root / "annotations.csv").write_text("filename,artist\na.wav,X\n")
    with pytest.raises(DatasetLayoutError, match="no target column"):
        load_dataset("csv", root, audio_dir="audio")
