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

    The track id is ``id_column`` or the file name without extension; the group is
    ``group_column`` or the track itself.
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

    rows, rejected, seen = [], [], {}
    for index, record in table.iterrows():
        line = int(index) + 2
        file_name = record[filename_column]
        if not file_name:
            raise DatasetLayoutError(f"{path}: line {line} has an empty {filename_column!r}")
        track_id = record[id_column] if id_column else str(Path(file_name).with_suffix(""))
        if track_id in seen:
            raise DatasetLayoutError(
                f"{path}: track id {track_id!r} on lines {seen[track_id]} and {line}"
            )
        seen[track_id] = line
        rel = str(Path(audio_dir) / file_name) if audio_dir not in ("", ".") else file_name
        row = {
            "track_id": track_id,
            "dataset": "csv",
            "group_id": record[group_column] if group_column else track_id,
        }
        for name, column in (("valence", valence_column), ("arousal", arousal_column)):
            if column in table.columns:
                row[name] = _rating(record[column], (low, high), path, line, column)
        if labels_column in table.columns:
            row["labels"] = _labels(record[labels_column], path, line, labels_column)
        if split_column:
            row["split"] = _split(record[split_column], path, line, split_column)
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


def _rating(
    cell: str, scale: tuple[float, float], path: Path, line: int, column: str
) -> float | None:
    """A number or the mean of a list of ratings; empty → None; off-scale is an error."""
    text = cell.strip()
    if not text:
        return None
    try:
        if text.startswith("["):
            values = [float(v) for v in json.loads(text)]
        else:
            values = [float(v) for v in text.split(";") if v.strip()]
    except (ValueError, TypeError) as exc:
        raise DatasetLayoutError(
            f"{path}: line {line} column {column!r}: {cell!r} is not a rating or list of ratings"
        ) from exc
    if not values:
        return None
    bad = [v for v in values if not (scale[0] <= v <= scale[1]) or math.isnan(v)]
    if bad:
        raise DatasetLayoutError(
            f"{path}: line {line} column {column!r}: rating {bad[0]:g} is outside the scale "
            f"{list(scale)} (set the csv option 'scale')"
        )
    return sum(values) / len(values)


def _labels(cell: str, path: Path, line: int, column: str) -> str | None:
    names = [part.strip() for part in cell.split(";") if part.strip()]
    if not names:
        return None
    weights: dict[str, float] = {}
    for part in names:
        name, _, weight = part.partition(":")
        try:
            weights[name.strip()] = float(weight) if weight else 1.0
        except ValueError as exc:
            raise DatasetLayoutError(
                f"{path}: line {line} column {column!r}: weight {weight!r} of label "
                f"{name.strip()!r} is not a number"
            ) from exc
    return labels_json(weights)


def _split(cell: str, path: Path, line: int, column: str) -> str:
    split = _SPLIT_ALIASES.get(cell.strip().lower())
    if split is None:
        raise DatasetLayoutError(
            f"{path}: line {line} column {column!r}: split {cell!r} is not one of {list(SPLITS)}"
        )
    return split
