"""A dataset described by one CSV (the witheFlow style of the seed paper).

One row per audio file: ``filename`` (relative to ``audio_dir``), optional ``valence`` /
``arousal`` (a number, or a list of ratings to average: ``[5, 6, 7]`` or ``5;6;7``) on the native
``scale``, optional ``labels`` (``;``-separated names, each optionally weighted ``name:0.4``;
unweighted names get 1.0), optional group and official split columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from emofx.datasets.files import DatasetLayoutError, read_table
from emofx.datasets.manifest import (
    SPLITS,
    LoadResult,
    RejectedItem,
    labels_json,
    manifest_frame,
    normalise,
    probe_audio,
    quadrant,
)

_SPLIT_ALIASES = {
    "train": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
}


def load(
    root: str | Path,
    annotations: str = "annotations.csv",
    audio_dir: str = ".",
    filename_column: str = "filename",
    id_column: str | None = None,
    valence_column: str = "valence",
    arousal_column: str = "arousal",
    labels_column: str = "labels",
    group_column: str | None = None,
    split_column: str | None = None,
    scale: Sequence[float] = (-1.0, 1.0),
    sep: str = ",",
) -> LoadResult:
    """Read ``root/annotations``; targets absent from the CSV are null (at least one is needed).

    The track id is ``id_column`` or the file name without extension (not its folders); rows
    sharing an id are all rejected, as is every row with an unusable cell or path (the reason
    names the line).
    """
    root = Path(root)
    path = root / annotations
    low, high = _scale(scale)
    required = [filename_column, *(c for c in (id_column, group_column, split_column) if c)]
    table = read_table(path, required, sep=sep, dtype=str, keep_default_na=False)
    targets = [c for c in (valence_column, arousal_column, labels_column) if c in table.columns]
    if not targets:
        raise DatasetLayoutError(
            f"{path}: no target column; expected any of "
            f"{[valence_column, arousal_column, labels_column]}, found {list(table.columns)}"
        )

    ids = [
        record[id_column] if id_column else Path(record[filename_column]).stem
        for _, record in table.iterrows()
    ]
    lines_of: dict[str, list[int]] = {}
    for index, track_id in enumerate(ids):
        lines_of.setdefault(track_id, []).append(index + 2)
    rows, rejected = [], []
    for (index, record), track_id in zip(table.iterrows(), ids, strict=True):
        line = int(index) + 2
        file_name = record[filename_column]
        rel = str(Path(audio_dir) / file_name) if audio_dir not in ("", ".") else file_name
        try:
            if not file_name:
                raise _RowProblem(f"empty {filename_column!r}")
            if len(lines_of[track_id]) > 1:
                others = ", ".join(str(n) for n in lines_of[track_id] if n != line)
                raise _RowProblem(
                    f"duplicate track id: {track_id!r} is also on line(s) {others} "
                    "(set the csv option id_column to tell them apart)"
                )
            row = {
                "track_id": track_id,
                "dataset": "csv",
                "group_id": record[group_column] if group_column else track_id,
            }
            for name, column in (("valence", valence_column), ("arousal", arousal_column)):
                if column in table.columns:
                    row[name] = _rating(record[column], (low, high), column)
            if labels_column in table.columns:
                row["labels"] = _labels(record[labels_column], labels_column)
            if all(row.get(name) is None for name in ("valence", "arousal", "labels")):
                raise _RowProblem(f"missing label: no value in {targets}")
            if split_column:
                row["split"] = _split(record[split_column], split_column)
        except _RowProblem as problem:
            item = track_id or f"line {line}"
            rejected.append(RejectedItem(item, rel, f"{problem} ({path.name} line {line})"))
            continue
        probed = probe_audio(root, rel, track_id)
        if isinstance(probed, RejectedItem):
            rejected.append(probed)
            continue
        rows.append({**row, **probed})

    manifest = manifest_frame(rows)
    manifest["valence_norm"] = normalise(manifest["valence"], low, high)
    manifest["arousal_norm"] = normalise(manifest["arousal"], low, high)
    manifest["quadrant"] = quadrant(manifest["valence_norm"], manifest["arousal_norm"])
    return LoadResult(manifest, rejected)


def _scale(scale: Sequence[float]) -> tuple[float, float]:
    if len(scale) != 2 or not float(scale[1]) > float(scale[0]):
        raise ValueError(f"csv option 'scale' must be [low, high] with high > low, got {scale!r}")
    return float(scale[0]), float(scale[1])


class _RowProblem(ValueError):
    """Why one CSV row cannot become a manifest row (the row is rejected, the rest goes on)."""


def _rating(cell: str, scale: tuple[float, float], column: str) -> float | None:
    """A number or the mean of a list of ratings; empty → None; off-scale or NaN is a problem."""
    text = cell.strip()
    if not text:
        return None
    try:
        if text.startswith("["):
            values = [float(v) for v in json.loads(text)]
        else:
            values = [float(v) for v in text.split(";") if v.strip()]
    except (ValueError, TypeError) as exc:
        raise _RowProblem(
            f"bad label: {column}={cell!r} is not a rating or list of ratings"
        ) from exc
    if not values:
        return None
    for v in values:
        if not math.isfinite(v):
            raise _RowProblem(f"bad label: {column}={v} is not a finite number")
        if not scale[0] <= v <= scale[1]:
            raise _RowProblem(
                f"bad label: {column}={v:g} outside the scale {scale[0]:g}–{scale[1]:g} "
                "(set the csv option 'scale')"
            )
    return sum(values) / len(values)


def _labels(cell: str, column: str) -> str | None:
    names = [part.strip() for part in cell.split(";") if part.strip()]
    if not names:
        return None
    weights: dict[str, float] = {}
    for part in names:
        name, _, weight = part.partition(":")
        try:
            weights[name.strip()] = float(weight) if weight else 1.0
        except ValueError as exc:
            raise _RowProblem(
                f"bad label: weight {weight!r} of {column} {name.strip()!r} is not a number"
            ) from exc
        if not math.isfinite(weights[name.strip()]):
            raise _RowProblem(f"bad label: weight {weight!r} of {column} {name.strip()!r}")
    return labels_json(weights)


def _split(cell: str, column: str) -> str:
    split = _SPLIT_ALIASES.get(cell.strip().lower())
    if split is None:
        raise _RowProblem(f"bad split: {column}={cell!r} is not one of {list(SPLITS)}")
    return split
