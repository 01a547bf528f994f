"""DEAM (MediaEval Database for Emotional Analysis in Music) in its official on-disk layout.

``MEMD_audio/<song_id>.mp3`` and ``annotations/annotations averaged per song/``:
``song_level/static_annotations_averaged_songs_{1_2000,2000_2058}.csv`` (valence/arousal means on
1–9; headers with a space after each comma; the 2000_2058 file has extra columns) and
``dynamic (per second annotations)/{valence,arousal}.csv`` (one row per song, ``sample_<ms>ms``
columns at 2 Hz from 15 s, values in [-1, 1], NaN-padded).

Two tasks: ``deam`` (static song-level targets) and ``deam-dynamic`` (targets = the mean of the
per-song dynamic curve, ``dynamic_ref`` pointing at the curve; read it with
:func:`read_dynamic`). Songs annotated without audio, and audio without annotation, are rejected
with a reason. Other files at the root (e.g. the synthetic corpus's ``synth_cues.csv``) are ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from emofx.datasets.files import (
    DatasetLayoutError,
    audio_files_by_stem,
    cached_by_file,
    numeric_column,
    read_table,
    require_dir,
)
from emofx.datasets.manifest import (
    LoadResult,
    RejectedItem,
    manifest_frame,
    normalise,
    probe_audio,
    quadrant,
)

AUDIO_DIR = "MEMD_audio"
AVERAGED_DIR = Path("annotations") / "annotations averaged per song"
STATIC_FILES = (
    AVERAGED_DIR / "song_level" / "static_annotations_averaged_songs_1_2000.csv",
    AVERAGED_DIR / "song_level" / "static_annotations_averaged_songs_2000_2058.csv",
)
DYNAMIC_DIR = AVERAGED_DIR / "dynamic (per second annotations)"
STATIC_SCALE = (1.0, 9.0)
DYNAMIC_SCALE = (-1.0, 1.0)
#: MediaEval Emotion in Music subsets by song-id range (2013: 744 clips, 2014: 1000, 2015: 58).
SUBSET_ID_RANGES: dict[int, tuple[int, int]] = {
    2013: (1, 1000),
    2014: (1001, 2000),
    2015: (2001, 2058),
}
_SAMPLE_COLUMN = re.compile(r"sample_(\d+)ms")


def load(root: str | Path, subsets: Iterable[int] | None = None) -> LoadResult:
    """Static task: one row per annotated song with audio; ``subsets`` selects MediaEval years."""
    root = Path(root)
    static = _read_static(root)
    dynamic_ids = _dynamic_song_ids(root)
    targets = {song_id: (row.valence_mean, row.arousal_mean) for song_id, row in static.iterrows()}
    refs = {song_id: _dynamic_ref(song_id) for song_id in dynamic_ids}
    return _build(root, targets, refs, subsets, "deam", STATIC_SCALE)


def load_dynamic(root: str | Path, subsets: Iterable[int] | None = None) -> LoadResult:
    """Dynamic task: one row per song with a dynamic curve; targets are the curve means."""
    root = Path(root)
    valence, arousal = (_read_dynamic_table(root, dim) for dim in ("valence", "arousal"))
    targets: dict[int, tuple[float, float]] = {}
    rejected: list[RejectedItem] = []
    for song_id in sorted(set(valence.index) | set(arousal.index)):
        if song_id not in valence.index or song_id not in arousal.index:
            dim = "valence" if song_id not in valence.index else "arousal"
            rejected.append(RejectedItem(str(song_id), "", f"no dynamic {dim} annotation"))
            continue
        v, a = np.nanmean(valence.loc[song_id]), np.nanmean(arousal.loc[song_id])
        if np.isnan(v) or np.isnan(a):
            rejected.append(RejectedItem(str(song_id), "", "empty dynamic annotation (all NaN)"))
            continue
        targets[song_id] = (float(v), float(a))
    refs = {song_id: _dynamic_ref(song_id) for song_id in targets}
    result = _build(root, targets, refs, subsets, "deam-dynamic", DYNAMIC_SCALE)
    result.rejected[:0] = rejected
    return result


def read_dynamic(root: str | Path, dynamic_ref: str) -> pd.DataFrame:
    """The 2-Hz curve a manifest ``dynamic_ref`` points at: columns ``time_s, valence, arousal``."""
    root = Path(root)
    ref = json.loads(dynamic_ref)
    song_id = int(ref["song_id"])
    curves = {}
    for dim in ("valence", "arousal"):
        table = _read_dynamic_table(root, dim)
        if song_id not in table.index:
            raise KeyError(f"{root / ref[dim]}: no row for song_id {song_id}")
        curves[dim] = table.loc[song_id]
    frame = pd.DataFrame(curves).dropna(how="all")
    times = [int(_SAMPLE_COLUMN.fullmatch(c).group(1)) / 1000 for c in frame.index]
    frame.insert(0, "time_s", times)
    return frame.reset_index(drop=True)


def _build(
    root: Path,
    targets: dict[int, tuple[float, float]],
    refs: dict[int, str],
    subsets: Iterable[int] | None,
    dataset: str,
    scale: tuple[float, float],
) -> LoadResult:
    audio_dir = require_dir(root / AUDIO_DIR, "DEAM audio (MEMD_audio)")
    audio = audio_files_by_stem(audio_dir)
    keep = _subset_filter(subsets)
    rows, rejected = [], []
    for song_id, (valence, arousal) in sorted(targets.items()):
        if not keep(song_id):
            continue
        path = audio.get(str(song_id))
        rel = f"{AUDIO_DIR}/{path.name}" if path else f"{AUDIO_DIR}/{song_id}.mp3"
        probed = probe_audio(root, rel, str(song_id))
        if isinstance(probed, RejectedItem):
            rejected.append(probed)
            continue
        rows.append(
            {
                "track_id": str(song_id),
                "dataset": dataset,
                "group_id": str(song_id),
                "valence": valence,
                "arousal": arousal,
                "dynamic_ref": refs.get(song_id),
                **probed,
            }
        )
    annotated = {str(song_id) for song_id in targets}
    for stem, path in audio.items():
        selected = keep(int(stem)) if stem.isdigit() else True
        if stem not in annotated and selected:
            rejected.append(RejectedItem(stem, f"{AUDIO_DIR}/{path.name}", "no annotation"))
    manifest = manifest_frame(rows)
    manifest["valence_norm"] = normalise(manifest["valence"], *scale)
    manifest["arousal_norm"] = normalise(manifest["arousal"], *scale)
    manifest["quadrant"] = quadrant(manifest["valence_norm"], manifest["arousal_norm"])
    return LoadResult(manifest, rejected)


def _subset_filter(subsets: Iterable[int] | None):
    if subsets is None:
        return lambda song_id: True
    subsets = [int(s) for s in subsets]
    unknown = [s for s in subsets if s not in SUBSET_ID_RANGES]
    if unknown:
        raise ValueError(
            f"unknown DEAM subset(s) {unknown}; choose from {sorted(SUBSET_ID_RANGES)}"
        )
    ranges = [SUBSET_ID_RANGES[s] for s in subsets]
    return lambda song_id: any(lo <= song_id <= hi for lo, hi in ranges)


def _read_static(root: Path) -> pd.DataFrame:
    """Both static CSVs as one frame indexed by song id (``valence_mean``, ``arousal_mean``)."""
    parts = []
    for rel in STATIC_FILES:
        path = root / rel
        table = read_table(path, ["song_id", "valence_mean", "arousal_mean"])
        ids = numeric_column(table, "song_id", path)
        if ids.isna().any():
            raise DatasetLayoutError(f"{path}: row {int(ids.isna().idxmax()) + 2} has no song_id")
        part = pd.DataFrame(
            {
                "song_id": ids.astype(int),
                "valence_mean": numeric_column(table, "valence_mean", path),
                "arousal_mean": numeric_column(table, "arousal_mean", path),
                "file": str(rel),
            }
        )
        parts.append(part)
    static = pd.concat(parts, ignore_index=True)
    duplicated = static[static["song_id"].duplicated(keep=False)]
    if not duplicated.empty:
        first = duplicated.iloc[0]
        raise DatasetLayoutError(
            f"{root}: song_id {first.song_id} is annotated more than once "
            f"(in {sorted(set(duplicated[duplicated.song_id == first.song_id].file))})"
        )
    return static.set_index("song_id")


def _read_dynamic_table(root: Path, dim: str) -> pd.DataFrame:
    return _read_dynamic_file(root / DYNAMIC_DIR / f"{dim}.csv")


@cached_by_file
def _read_dynamic_file(path: Path) -> pd.DataFrame:
    table = read_table(path, ["song_id"])
    samples = [c for c in table.columns if _SAMPLE_COLUMN.fullmatch(c)]
    if not samples:
        raise DatasetLayoutError(f"{path}: no sample_<ms>ms columns")
    ids = numeric_column(table, "song_id", path).astype(int)
    values = table[samples].apply(pd.to_numeric, errors="coerce").astype("float64")
    return values.set_axis(ids)


def _dynamic_song_ids(root: Path) -> set[int]:
    """Song ids with dynamic annotations in both files (empty if the files are absent)."""
    ids = []
    for dim in ("valence", "arousal"):
        path = root / DYNAMIC_DIR / f"{dim}.csv"
        if not path.is_file():
            return set()
        ids.append(set(read_table(path, ["song_id"], usecols=[0])["song_id"].astype(int)))
    return ids[0] & ids[1]


def _dynamic_ref(song_id: int) -> str:
    return json.dumps(
        {
            "format": "deam",
            "song_id": song_id,
            "valence": str(DYNAMIC_DIR / "valence.csv"),
            "arousal": str(DYNAMIC_DIR / "arousal.csv"),
        }
    )
