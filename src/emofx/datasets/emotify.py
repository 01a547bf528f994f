"""Emotify (Aljanaki, Wiering & Veltkamp 2016) in its release layout.

``emotifymusic/{classical,rock,electronic,pop}/<n>.mp3`` and ``data.csv`` with one row per listener
rating (``track id, genre, amazement, …, sadness, mood, liked, …``; spaces after the commas). The
track id is the genre offset + n (classical 0, rock 100, electronic 200, pop 300). The target is the
per-track proportion of listeners who chose each GEMS-9 emotion (``labels``); valence/arousal are
not annotated (null). Splits are stratified by genre; each track is its own group (the release
names no artists).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emofx.audio import SUPPORTED_EXTENSIONS
from emofx.datasets.files import DatasetLayoutError, numeric_column, read_table, require_dir
from emofx.datasets.manifest import (
    LoadResult,
    RejectedItem,
    labels_json,
    manifest_frame,
    probe_audio,
)

AUDIO_DIR = "emotifymusic"
RATINGS_FILE = "data.csv"
GENRE_OFFSETS: dict[str, int] = {"classical": 0, "rock": 100, "electronic": 200, "pop": 300}
GEMS9: tuple[str, ...] = (
    "amazement",
    "solemnity",
    "tenderness",
    "nostalgia",
    "calmness",
    "power",
    "joyful_activation",
    "tension",
    "sadness",
)


def load(root: str | Path, genres: list[str] | None = None) -> LoadResult:
    """One row per rated track with audio; ``genres`` optionally restricts the genres."""
    root = Path(root)
    genres = list(GENRE_OFFSETS) if genres is None else list(genres)
    unknown = sorted(set(genres) - set(GENRE_OFFSETS))
    if unknown:
        raise ValueError(f"unknown Emotify genre(s) {unknown}; choose from {list(GENRE_OFFSETS)}")
    audio_dir = require_dir(root / AUDIO_DIR, "Emotify audio (emotifymusic)")
    ratings = _read_ratings(root / RATINGS_FILE)
    proportions = ratings.groupby("track_id")[list(GEMS9)].mean()
    genre_of = ratings.groupby("track_id")["genre"].first()

    rows, strata, rejected = [], [], []
    for track_id in proportions.index:
        genre = genre_of[track_id]
        if genre not in genres:
            continue
        rel = f"{AUDIO_DIR}/{genre}/{track_id - GENRE_OFFSETS[genre]}.mp3"
        probed = probe_audio(root, rel, str(track_id))
        if isinstance(probed, RejectedItem):
            rejected.append(probed)
            continue
        labels = proportions.loc[track_id].to_dict()
        rows.append(
            {
                "track_id": str(track_id),
                "dataset": "emotify",
                "group_id": str(track_id),
                "labels": labels_json(labels),
                **probed,
            }
        )
        strata.append(genre)
    rated = {(g, int(t) - GENRE_OFFSETS[g]) for t, g in genre_of.items()}
    for genre in genres:
        folder = audio_dir / genre
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.stem.isdigit() and (genre, int(path.stem)) in rated:
                continue
            if path.is_file() or path.is_symlink():
                rel = f"{AUDIO_DIR}/{genre}/{path.name}"
                rejected.append(RejectedItem(f"{genre}/{path.stem}", rel, "no annotation"))
    rejected += _outside_genres(audio_dir)
    manifest = manifest_frame(rows)
    return LoadResult(manifest, rejected, strata=pd.Series(strata, index=manifest.index))


def _outside_genres(audio_dir: Path) -> list[RejectedItem]:
    """Audio the release layout cannot place: in a folder that is not a genre, or loose."""
    found = []
    for path in sorted(audio_dir.rglob("*")):
        rel = path.relative_to(audio_dir)
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS or rel.parts[0] in GENRE_OFFSETS:
            continue
        where = f"{AUDIO_DIR}/{rel.as_posix()}"
        if len(rel.parts) == 1:
            reason = f"no genre folder: {where} is not in one of {list(GENRE_OFFSETS)}"
        else:
            reason = (
                f"unknown genre folder: {rel.parts[0]!r} is not an Emotify genre "
                f"{list(GENRE_OFFSETS)}"
            )
        found.append(RejectedItem(rel.with_suffix("").as_posix(), where, reason))
    return found


def _read_ratings(path: Path) -> pd.DataFrame:
    """Per-listener rows with int ``track_id``, checked genre and 0/1 GEMS columns."""
    table = read_table(path, ["track id", "genre", *GEMS9])
    table["track_id"] = numeric_column(table, "track id", path)
    if table["track_id"].isna().any():
        row = int(table["track_id"].isna().idxmax())
        raise DatasetLayoutError(f"{path}: row {row + 2} has no track id")
    table["track_id"] = table["track_id"].astype(int)
    genre = table["genre"].astype("string").str.lower()
    bad_genre = ~genre.isin(list(GENRE_OFFSETS))
    if bad_genre.any():
        row = int(bad_genre.idxmax())
        raise DatasetLayoutError(
            f"{path}: row {row + 2} has unknown genre {table['genre'].iloc[row]!r} "
            f"(expected one of {list(GENRE_OFFSETS)})"
        )
    table["genre"] = genre
    offset = genre.map(GENRE_OFFSETS).astype(int)
    mismatch = ~((table["track_id"] > offset) & (table["track_id"] <= offset + 100))
    if mismatch.any():
        row = int(mismatch.idxmax())
        raise DatasetLayoutError(
            f"{path}: row {row + 2}: track id {table['track_id'].iloc[row]} is not in the id range "
            f"of genre {genre.iloc[row]!r} ({offset.iloc[row] + 1}–{offset.iloc[row] + 100})"
        )
    for emotion in GEMS9:
        values = numeric_column(table, emotion, path)
        bad = ~values.isin([0.0, 1.0])
        if bad.any():
            row = int(bad.idxmax())
            raise DatasetLayoutError(
                f"{path}: column {emotion!r} row {row + 2} is {values.iloc[row]:g}; "
                "GEMS choices must be 0 or 1"
            )
        table[emotion] = values
    return table
