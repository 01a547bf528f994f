"""PMEmo2019 (Zhang et al. 2018) in its release layout.

``metadata.csv`` (``musicId, fileName, title, artist, album, duration, chorus_start_time,
chorus_end_time``), ``chorus/<musicId>.mp3``, ``annotations/static_annotations.csv``
(``musicId, Arousal(mean), Valence(mean)`` on 0–1) and optionally
``annotations/dynamic_annotations.csv`` (``musicId, frameTime, Arousal(mean), Valence(mean)``).
Songs without static labels are rejected. Groups are artists by default (the same artist in train
and test leaks), or songs with ``group_by="song"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pandas as pd

from emofx.audio import SUPPORTED_EXTENSIONS
from emofx.datasets.files import (
    DatasetLayoutError,
    cached_by_file,
    numeric_column,
    read_table,
    require_file,
)
from emofx.datasets.manifest import (
    LoadResult,
    RejectedItem,
    manifest_frame,
    normalise,
    probe_audio,
    quadrant,
)

METADATA_FILE = "metadata.csv"
AUDIO_DIR = "chorus"
STATIC_FILE = Path("annotations") / "static_annotations.csv"
DYNAMIC_FILE = Path("annotations") / "dynamic_annotations.csv"
SCALE = (0.0, 1.0)
_TARGETS = {"valence": "Valence(mean)", "arousal": "Arousal(mean)"}


def load(root: str | Path, group_by: Literal["artist", "song"] = "artist") -> LoadResult:
    root = Path(root)
    if group_by not in ("artist", "song"):
        raise ValueError(f"PMEmo group_by must be 'artist' or 'song', got {group_by!r}")
    metadata = _read_metadata(root / METADATA_FILE)
    static, rejected = _read_static(root / STATIC_FILE)
    dynamic_ids = _dynamic_ids(root / DYNAMIC_FILE)

    rows, listed = [], set()
    for music_id in sorted(set(metadata) | set(static.index)):
        meta = metadata.get(music_id, {})
        rel = f"{AUDIO_DIR}/{meta.get('fileName') or f'{music_id}.mp3'}"
        listed.add(rel)
        if any(item.item_id == str(music_id) for item in rejected):
            continue
        if music_id not in static.index:
            rejected.append(RejectedItem(str(music_id), rel, "no annotation"))
            continue
        probed = probe_audio(root, rel, str(music_id))
        if isinstance(probed, RejectedItem):
            rejected.append(probed)
            continue
        artist = meta.get("artist")
        group = f"artist:{artist.casefold()}" if group_by == "artist" and artist else str(music_id)
        ref = _dynamic_ref(music_id) if music_id in dynamic_ids else None
        rows.append(
            {
                "track_id": str(music_id),
                "dataset": "pmemo",
                "group_id": group,
                "valence": static.at[music_id, "valence"],
                "arousal": static.at[music_id, "arousal"],
                "dynamic_ref": ref,
                **probed,
            }
        )
    audio_dir = root / AUDIO_DIR
    for path in sorted(audio_dir.iterdir()) if audio_dir.is_dir() else []:
        rel = f"{AUDIO_DIR}/{path.name}"
        if path.suffix.lower() in SUPPORTED_EXTENSIONS and rel not in listed:
            reason = f"no annotation: {rel} is listed neither in {METADATA_FILE} nor by musicId"
            rejected.append(RejectedItem(path.stem, rel, reason))
    manifest = manifest_frame(rows)
    manifest["valence_norm"] = normalise(manifest["valence"], *SCALE)
    manifest["arousal_norm"] = normalise(manifest["arousal"], *SCALE)
    manifest["quadrant"] = quadrant(manifest["valence_norm"], manifest["arousal_norm"])
    return LoadResult(manifest, rejected)


def read_dynamic(root: str | Path, dynamic_ref: str) -> pd.DataFrame:
    """The curve a PMEmo ``dynamic_ref`` points at: ``time_s, valence, arousal`` (0–1 scale)."""
    ref = json.loads(dynamic_ref)
    path = Path(root) / ref["file"]
    table = _read_dynamic_table(path)
    curve = table[table["musicId"] == int(ref["music_id"])]
    if curve.empty:
        raise KeyError(f"{path}: no rows for musicId {ref['music_id']}")
    return curve[["time_s", "valence", "arousal"]].reset_index(drop=True)


def _read_metadata(path: Path) -> dict[int, dict[str, str | None]]:
    """``fileName``/``artist`` by musicId; an absent metadata file gives no entries."""
    if not path.is_file():
        return {}
    table = read_table(path, ["musicId", "fileName"], dtype=str)
    if "artist" not in table.columns:
        table["artist"] = None
    table = table.astype(object).where(table.notna(), None)
    return {
        music_id: {"fileName": row["fileName"], "artist": row["artist"]}
        for music_id, (_, row) in zip(_ids(table, path), table.iterrows(), strict=True)
    }


def _read_static(path: Path) -> tuple[pd.DataFrame, list[RejectedItem]]:
    """Static targets by musicId, and the rows whose targets are missing or off PMEmo's scale."""
    require_file(path, "PMEmo static annotation")
    table = read_table(path, ["musicId", *_TARGETS.values()])
    out = pd.DataFrame(
        {name: numeric_column(table, column, path) for name, column in _TARGETS.items()}
    ).set_axis(_ids(table, path))
    rejected = []
    for line, (music_id, values) in enumerate(out.iterrows(), start=2):
        for name, value in values.items():
            problem = None
            if pd.isna(value):
                problem = f"missing label: {name} is empty"
            elif not SCALE[0] <= value <= SCALE[1]:
                problem = (
                    f"bad label: {name}={value:g} outside the PMEmo scale {SCALE[0]:g}–{SCALE[1]:g}"
                )
            if problem is not None:
                where = f"({path.name} line {line})"
                rejected.append(RejectedItem(str(music_id), str(STATIC_FILE), f"{problem} {where}"))
                break
    bad = {int(item.item_id) for item in rejected}
    return out[~out.index.isin(bad)], rejected


@cached_by_file
def _read_dynamic_table(path: Path) -> pd.DataFrame:
    table = read_table(path, ["musicId", "frameTime", *_TARGETS.values()])
    return pd.DataFrame(
        {
            "musicId": _ids(table, path),
            "time_s": numeric_column(table, "frameTime", path),
            **{name: numeric_column(table, column, path) for name, column in _TARGETS.items()},
        }
    )


def _dynamic_ids(path: Path) -> set[int]:
    if not path.is_file():
        return set()
    return set(_ids(read_table(path, ["musicId"], usecols=["musicId"]), path))


def _dynamic_ref(music_id: int) -> str:
    return json.dumps({"format": "pmemo", "file": str(DYNAMIC_FILE), "music_id": music_id})


def _ids(table: pd.DataFrame, path: Path) -> pd.Series:
    ids = numeric_column(table, "musicId", path)
    if ids.isna().any():
        raise DatasetLayoutError(f"{path}: row {int(ids.isna().idxmax()) + 2} has no musicId")
    return ids.astype(int)
