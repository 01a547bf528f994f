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
import math
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from emofx.datasets.files import (
    DatasetLayoutError,
    audio_files_by_stem,
    cached_by_file,
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
    """Static task: one row per annotated song with audio; ``subsets`` selects MediaEval years.

    A song whose dynamic curve is unusable keeps its static targets without ``dynamic_ref``, with
    a warning saying why.
    """
    root = Path(root)
    static, rejected = _read_static(root)
    dynamic_ids, curve_problems = _dynamic_song_ids(root)
    targets = {song_id: (row.valence_mean, row.arousal_mean) for song_id, row in static.iterrows()}
    refs = {song_id: _dynamic_ref(song_id) for song_id in dynamic_ids}
    result = _build(root, targets, refs, subsets, "deam", STATIC_SCALE, rejected)
    kept = set(result.manifest["track_id"])
    result.warnings += [
        RejectedItem(str(song_id), str(DYNAMIC_DIR), f"dynamic curve not used: {problem}")
        for song_id, problem in sorted(curve_problems.items())
        if str(song_id) in kept
    ]
    return result


def load_dynamic(root: str | Path, subsets: Iterable[int] | None = None) -> LoadResult:
    """Dynamic task: one row per song with a dynamic curve; targets are the curve means."""
    root = Path(root)
    valence, arousal = (_read_dynamic_table(root, dim) for dim in ("valence", "arousal"))
    problems = _curve_problems(root)
    targets: dict[int, tuple[float, float]] = {}
    rejected: list[RejectedItem] = []
    for song_id in sorted(set(valence.index) | set(arousal.index)):
        if song_id in problems:
            rejected.append(RejectedItem(str(song_id), str(DYNAMIC_DIR), problems[song_id]))
            continue
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
    return _build(root, targets, refs, subsets, "deam-dynamic", DYNAMIC_SCALE, rejected)


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
    rejected: list[RejectedItem],
) -> LoadResult:
    """Manifest rows for ``targets``; ``rejected`` (annotation problems found so far) is extended
    with the songs and files that cannot be used."""
    audio_dir = require_dir(root / AUDIO_DIR, "DEAM audio (MEMD_audio)")
    audio, problems = audio_files_by_stem(audio_dir)
    keep = _subset_filter(subsets)
    rows = []
    rejected = list(rejected)
    handled = {item.item_id for item in rejected}
    for stem, (names, reason) in problems.items():
        rejected.append(RejectedItem(stem, f"{AUDIO_DIR}/{names}", reason))
        handled.add(stem)
    for song_id, (valence, arousal) in sorted(targets.items()):
        if not keep(song_id) or str(song_id) in handled:
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
        if stem not in annotated and stem not in handled and selected:
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


def _read_static(root: Path) -> tuple[pd.DataFrame, list[RejectedItem]]:
    """Both static CSVs as one frame indexed by song id (``valence_mean``, ``arousal_mean``),
    and the rows that cannot be used, each with its file, line and problem."""
    rows, rejected = [], []
    for rel in STATIC_FILES:
        path = root / rel
        table = read_table(
            path, ["song_id", "valence_mean", "arousal_mean"], dtype=str, keep_default_na=False
        )
        for index, record in table.iterrows():
            where = f"({path.name} line {int(index) + 2})"
            song_id, problem = _song_id(record["song_id"])
            if problem is None:
                values = {dim: _label(record[f"{dim}_mean"], dim) for dim in ("valence", "arousal")}
                problem = next((v for v in values.values() if isinstance(v, str)), None)
            if problem is not None:
                item = str(song_id) if song_id is not None else record["song_id"] or where
                rejected.append(RejectedItem(item, str(rel), f"{problem} {where}"))
                continue
            rows.append((song_id, values["valence"], values["arousal"], where))
    static = pd.DataFrame(rows, columns=["song_id", "valence_mean", "arousal_mean", "where"])
    duplicated = static["song_id"].duplicated(keep=False)
    for song_id, group in static[duplicated].groupby("song_id"):
        places = ", ".join(group["where"].str.strip("()"))
        reason = f"duplicate annotation: song {song_id} is annotated more than once ({places})"
        rejected.append(RejectedItem(str(song_id), str(AVERAGED_DIR / "song_level"), reason))
    return static[~duplicated].drop(columns="where").set_index("song_id"), rejected


def _song_id(cell: str) -> tuple[int | None, str | None]:
    """A DEAM song id (a positive integer), or why the cell is not one."""
    try:
        value = float(cell)
    except ValueError:
        return None, f"bad song id: {cell!r} is not an integer"
    if not math.isfinite(value) or value != int(value) or value < 1:
        return None, f"bad song id: {cell!r} is not an integer"
    return int(value), None


def _label(cell: str, dim: str) -> float | str:
    """A static label on DEAM's 1–9 scale, or why the cell is not one."""
    if cell == "" or cell.lower() in ("nan", "na", "n/a"):
        return f"missing label: {dim} is empty"
    try:
        value = float(cell)
    except ValueError:
        return f"bad label: {dim}={cell!r} is not a number"
    if not math.isfinite(value):
        return f"bad label: {dim}={cell} is not finite"
    low, high = STATIC_SCALE
    if not low <= value <= high:
        return f"bad label: {dim}={value:g} outside the DEAM scale {low:g}–{high:g}"
    return value


def _read_dynamic_table(root: Path, dim: str) -> pd.DataFrame:
    return _read_dynamic_file(root / DYNAMIC_DIR / f"{dim}.csv")


@cached_by_file
def _read_dynamic_file(path: Path) -> pd.DataFrame:
    """The curves by song id; rows whose id is not an integer are left out (see
    :func:`_curve_problems`), unreadable cells are NaN."""
    table = read_table(path, ["song_id"], dtype=str, keep_default_na=False)
    samples = [c for c in table.columns if _SAMPLE_COLUMN.fullmatch(c)]
    if not samples:
        raise DatasetLayoutError(f"{path}: no sample_<ms>ms columns")
    ids = [_song_id(cell)[0] for cell in table["song_id"]]
    usable = [i is not None for i in ids]
    values = table.loc[usable, samples].apply(pd.to_numeric, errors="coerce").astype("float64")
    return values.set_axis(pd.Index([i for i in ids if i is not None], dtype="int64"))


def _curve_problems(root: Path) -> dict[int | str, str]:
    """Per song, why its dynamic curve cannot be used: a cell that is not a number or lies outside
    [-1, 1], a song id that is not an integer, a curve in one file but not the other."""
    problems: dict[int | str, str] = {}
    ids: dict[str, set[int]] = {}
    for dim in ("valence", "arousal"):
        path = root / DYNAMIC_DIR / f"{dim}.csv"
        raw = read_table(path, ["song_id"], dtype=str, keep_default_na=False)
        samples = [c for c in raw.columns if _SAMPLE_COLUMN.fullmatch(c)]
        values = raw[samples].apply(pd.to_numeric, errors="coerce")
        text = raw[samples].apply(lambda col: col.str.lower())
        not_number = values.isna() & ~text.isin(["", "nan"])
        outside = values.abs() > DYNAMIC_SCALE[1]
        ids[dim] = set()
        for index, cell in raw["song_id"].items():
            where = f"{dim}.csv line {int(index) + 2}"
            song_id, problem = _song_id(cell)
            if song_id is None:
                problems[cell or where] = f"{problem} ({where})"
                continue
            ids[dim].add(song_id)
            bad = not_number.loc[index] | outside.loc[index]
            if bad.any() and song_id not in problems:
                column = str(bad.idxmax())
                kind = "is not a number" if not_number.at[index, column] else "is outside [-1, 1]"
                problems[song_id] = (
                    f"bad dynamic {dim} value {raw.at[index, column]!r} at {column} {kind} "
                    f"({where})"
                )
    for dim, other in (("valence", "arousal"), ("arousal", "valence")):
        for song_id in sorted(ids[dim] - ids[other]):
            problems.setdefault(
                song_id, f"missing dynamic curve: song {song_id} has {dim} but no {other} row"
            )
    return problems


def _dynamic_song_ids(root: Path) -> tuple[set[int], dict[int | str, str]]:
    """Song ids with usable dynamic annotations in both files (empty if the files are absent),
    and why the others' curves cannot be used."""
    if not all((root / DYNAMIC_DIR / f"{dim}.csv").is_file() for dim in ("valence", "arousal")):
        return set(), {}
    problems = _curve_problems(root)
    ids = [set(_read_dynamic_table(root, dim).index) for dim in ("valence", "arousal")]
    return {i for i in ids[0] & ids[1] if i not in problems}, problems


def _dynamic_ref(song_id: int) -> str:
    return json.dumps(
        {
            "format": "deam",
            "song_id": song_id,
            "valence": str(DYNAMIC_DIR / "valence.csv"),
            "arousal": str(DYNAMIC_DIR / "arousal.csv"),
        }
    )
