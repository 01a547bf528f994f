"""Emotify loader on the real emotify-80 sample (per-listener GEMS rows → proportions)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from emofx.datasets import load_dataset
from emofx.datasets.emotify import GEMS9
from emofx.datasets.files import DatasetLayoutError
from emofx.datasets.manifest import assign_splits

SHARED = Path(__file__).resolve().parents[2] / "shared"
EMOTIFY = SHARED / "data" / "emotify-80"
pytestmark = pytest.mark.skipif(
    not EMOTIFY.is_dir(), reason=f"real Emotify sample not found at {EMOTIFY}"
)


@pytest.fixture(scope="module")
def emotify():
    return load_dataset("emotify", EMOTIFY)


def test_gems_proportions_per_track(emotify):
    m = emotify.manifest.set_index("track_id")
    assert len(m) == 80
    first = json.loads(m.loc["1", "labels"])
    assert list(first) == list(GEMS9)
    # track 1: 48 listeners, 7 chose amazement, 16 solemnity, 30 calmness
    assert first["amazement"] == pytest.approx(7 / 48)
    assert first["solemnity"] == pytest.approx(16 / 48)
    assert first["calmness"] == pytest.approx(30 / 48)
    assert json.loads(m.loc["301", "labels"])["power"] == pytest.approx(2 / 53)
    assert m.loc["301", "audio_path"] == "emotifymusic/pop/1.mp3"
    assert m[["valence", "arousal"]].isna().all().all() and m["quadrant"].isna().all()


def test_tracks_without_audio_are_reported_and_genre_is_the_stratum(emotify):
    rejected = emotify.rejected_frame()
    assert len(rejected) == 400 - 80 and set(rejected["reason"]) == {"missing audio"}
    assert emotify.strata.value_counts().to_dict() == {
        g: 20 for g in ("classical", "rock", "electronic", "pop")
    }
    splits = assign_splits(
        emotify.manifest["group_id"], {"train": 0.6, "val": 0.2, "test": 0.2}, 0, emotify.strata
    )
    per_genre = pd.crosstab(emotify.strata, splits)
    assert (per_genre["test"] == 4).all() and (per_genre["val"] == 4).all()


def test_genre_selection(emotify):
    rock = load_dataset("emotify", EMOTIFY, genres=["rock"])
    assert set(rock.manifest["track_id"].astype(int)) == set(range(101, 121))
    with pytest.raises(ValueError, match="jazz"):
        load_dataset("emotify", EMOTIFY, genres=["jazz"])


def test_bad_rating_values_name_file_column_and_row(tmp_path):
    root = tmp_path / "emotify"
    (root / "emotifymusic" / "rock").mkdir(parents=True)
    lines = (EMOTIFY / "data.csv").read_text().splitlines()[:4]
    lines[2] = lines[2].replace("1,classical,0,0,0,1", "1,classical,0,0,0,2")
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetLayoutError, match=r"data.csv: column 'nostalgia' row 3 is 2;"):
        load_dataset("emotify", root)
    lines[2] = lines[2].replace("1,classical,0,0,0,2", "101,classical,0,0,0,1")
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetLayoutError, match=r"row 3: track id 101 .* genre 'classical'"):
        load_dataset("emotify", root)


def test_audio_without_ratings_is_reported(tmp_path):
    root = tmp_path / "emotify"
    (root / "emotifymusic" / "pop").mkdir(parents=True)
    lines = (EMOTIFY / "data.csv").read_text().splitlines()
    (root / "data.csv").write_text(
        "\n".join(r for r in lines if ",pop," not in r or r.startswith("301,")) + "\n"
    )
    for n in (1, 2):
        shutil.copy(EMOTIFY / "emotifymusic" / "pop" / f"{n}.mp3", root / "emotifymusic" / "pop")
    result = load_dataset("emotify", root, genres=["pop"])
    assert result.manifest["track_id"].tolist() == ["301"]
    assert [(r.item_id, r.reason) for r in result.rejected] == [("pop/2", "no annotation")]
