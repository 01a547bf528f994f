"""The manifest schema shared by every dataset loader, and the helpers that fill it.

One row per track (see docs/architecture.md). Loaders build rows with :func:`manifest_frame`,
report everything they cannot use as :class:`RejectedItem` (nothing is dropped silently), and leave
``split`` null unless the dataset ships official splits; :func:`assign_splits` fills it later,
group-disjoint and seeded.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

from emofx.audio import AudioDecodeError, audio_info
from emofx.datasets.files import printable, resolve_under

MANIFEST_DTYPES: dict[str, str] = {
    "track_id": "string",
    "dataset": "string",
    "audio_path": "string",
    "duration_s": "float64",
    "sample_rate": "Int64",
    "channels": "Int64",
    "split": "string",
    "group_id": "string",
    "valence": "float64",
    "arousal": "float64",
    "valence_norm": "float64",
    "arousal_norm": "float64",
    "quadrant": "Int64",
    "labels": "string",
    "dynamic_ref": "string",
}
MANIFEST_COLUMNS: tuple[str, ...] = tuple(MANIFEST_DTYPES)
REJECTED_COLUMNS: tuple[str, ...] = ("item_id", "path", "reason")
SPLITS: tuple[str, ...] = ("train", "val", "test")
QUADRANT_NAMES: dict[int, str] = {1: "excitement", 2: "anger", 3: "sadness", 4: "calmness"}


@dataclass(frozen=True)
class RejectedItem:
    """An annotation or file a loader could not turn into a manifest row, and why."""

    item_id: str
    path: str
    reason: str

    def __post_init__(self) -> None:  # non-UTF-8 file names must not break rejected.csv
        for name in ("item_id", "path", "reason"):
            object.__setattr__(self, name, printable(getattr(self, name)))


@dataclass
class LoadResult:
    """What a loader returns: the manifest, the rejected items, and the stratum of each row.

    ``strata`` (aligned with ``manifest`` rows) is what splits are stratified by; ``None`` means
    the quadrant. ``warnings`` name kept items with a partial problem (e.g. an unusable dynamic
    curve). ``sources`` maps a track id to the file to decode when that is not
    ``root / audio_path`` (EMOPIA's MIDI rendered into the project's cache); ``rendered`` names
    the tracks whose audio the project rendered itself (not checked for a stream cut short: a
    render may end in exact zeros).
    """

    manifest: pd.DataFrame
    rejected: list[RejectedItem] = field(default_factory=list)
    strata: pd.Series | None = None
    warnings: list[RejectedItem] = field(default_factory=list)
    sources: dict[str, Path] = field(default_factory=dict)
    rendered: set[str] = field(default_factory=set)

    def rejected_frame(self) -> pd.DataFrame:
        return rejected_frame(self.rejected)


def rejected_frame(items: Iterable[RejectedItem]) -> pd.DataFrame:
    rows = [(r.item_id, r.path, r.reason) for r in items]
    return pd.DataFrame(rows, columns=list(REJECTED_COLUMNS), dtype="string")


def manifest_frame(rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """Rows (dicts with any subset of the manifest columns) → a manifest with the schema's dtypes.

    Unknown keys are an error (a loader bug, not user input); missing columns become null.
    """
    unknown = {k for row in rows for k in row} - set(MANIFEST_COLUMNS)
    if unknown:
        raise KeyError(f"not manifest columns: {sorted(unknown)}")
    frame = pd.DataFrame(list(rows), columns=list(MANIFEST_COLUMNS))
    return coerce_manifest(frame)


def coerce_manifest(frame: pd.DataFrame) -> pd.DataFrame:
    """Put the columns in schema order with schema dtypes (e.g. after reading a parquet file)."""
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise KeyError(f"manifest lacks columns {missing}")
    frame = frame[list(MANIFEST_COLUMNS)].astype(MANIFEST_DTYPES)
    return frame.reset_index(drop=True)


def normalise(values: pd.Series | np.ndarray | float, low: float, high: float):
    """Map a native rating scale ``[low, high]`` linearly onto ``[-1, 1]`` (midpoint → 0)."""
    if not high > low:
        raise ValueError(f"scale must have high > low, got [{low}, {high}]")
    return 2.0 * (values - low) / (high - low) - 1.0


def quadrant(valence_norm: pd.Series, arousal_norm: pd.Series) -> pd.Series:
    """Russell quadrant 1–4 from normalised valence/arousal.

    Q1 = +V+A (excitement), Q2 = −V+A (anger), Q3 = −V−A (sadness), Q4 = +V−A (calmness).
    A value exactly on an axis (neutral) or missing gives null: the quadrant is not guessed.
    """
    v = pd.Series(valence_norm, dtype="float64")
    a = pd.Series(arousal_norm, dtype="float64").set_axis(v.index)
    out = pd.Series(pd.NA, index=v.index, dtype="Int64")
    out[(v > 0) & (a > 0)] = 1
    out[(v < 0) & (a > 0)] = 2
    out[(v < 0) & (a < 0)] = 3
    out[(v > 0) & (a < 0)] = 4
    return out


def labels_json(proportions: Mapping[str, float]) -> str:
    """The manifest's ``labels`` cell: ``{"name": proportion}`` as JSON."""
    return json.dumps({str(k): float(v) for k, v in proportions.items()})


def probe_audio(
    root: Path, rel_path: str, item_id: str, source: Path | None = None
) -> dict[str, object] | RejectedItem:
    """Header facts for a manifest row, or a rejection naming why the file is unusable.

    ``rel_path`` must stay inside ``root`` (see :func:`resolve_under`); ``source``, when given, is
    the file actually read (audio the project rendered from ``rel_path``).
    """
    path = resolve_under(root, rel_path) if source is None else source
    if isinstance(path, str):
        return RejectedItem(item_id, rel_path, path)
    try:
        info = audio_info(path)
    except AudioDecodeError as exc:
        return RejectedItem(item_id, rel_path, f"unreadable audio: {exc}")
    if info.frames <= 0:
        return RejectedItem(item_id, rel_path, "empty audio (0 frames)")
    return {
        "audio_path": rel_path,
        "duration_s": info.duration_s,
        "sample_rate": info.sample_rate,
        "channels": info.channels,
    }


def assign_splits(
    groups: pd.Series,
    fractions: Mapping[str, float],
    seed: int,
    strata: pd.Series | None = None,
) -> pd.Series:
    """Seeded train/val/test assignment, disjoint by group.

    ``fractions`` maps ``train``/``val``/``test`` to fractions summing to 1 (0 allowed for val or
    test). With ``strata`` (e.g. quadrant; nulls form their own stratum) the held-out parts are
    taken with ``StratifiedGroupKFold`` (one fold of ``round(1 / fraction)``, so 0.15 holds out
    1/7) so each split keeps the strata proportions as far as the groups allow; without strata, or
    with too few groups for the folds, with ``GroupShuffleSplit``.
    """
    groups = pd.Series(groups).astype("string")
    if groups.isna().any():
        raise ValueError(f"{int(groups.isna().sum())} rows have no group_id")
    out = pd.Series("train", index=groups.index, dtype="string")
    rest = np.arange(len(groups))
    stratum_codes = None
    if strata is not None:
        stratum_codes = pd.Series(strata).astype("string").fillna("<null>").to_numpy()
    remaining = 1.0
    for offset, name in enumerate(("test", "val")):
        frac = float(fractions.get(name, 0.0))
        if frac <= 0 or len(rest) == 0:
            continue
        held = _hold_out(
            groups.to_numpy()[rest],
            None if stratum_codes is None else stratum_codes[rest],
            frac / remaining,
            seed + offset,
            name,
        )
        out.iloc[rest[held]] = name
        rest = rest[~held]
        remaining -= frac
    return out


def _hold_out(
    groups: np.ndarray, strata: np.ndarray | None, frac: float, seed: int, name: str
) -> np.ndarray:
    """Boolean mask of rows whose groups form a ~``frac`` share of ``groups``."""
    n_groups = len(np.unique(groups))
    if frac >= 1.0:
        return np.ones(len(groups), dtype=bool)
    if n_groups < 2:
        raise ValueError(
            f"cannot hold out a {name} split from {n_groups} group(s): at least 2 are needed"
        )
    n_folds = round(1.0 / frac)
    x = np.zeros((len(groups), 1))
    if strata is not None and _stratifiable(strata, n_folds, n_groups):
        folds = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        with warnings.catch_warnings():  # rare strata are expected; they just spread unevenly
            warnings.filterwarnings("ignore", "The least populated class", UserWarning)
            _, held = next(folds.split(x, strata, groups))
    else:
        splitter = GroupShuffleSplit(n_splits=1, test_size=frac, random_state=seed)
        _, held = next(splitter.split(x, groups=groups))
    mask = np.zeros(len(groups), dtype=bool)
    mask[held] = True
    return mask


def _stratifiable(strata: np.ndarray, n_folds: int, n_groups: int) -> bool:
    """StratifiedGroupKFold needs ≥ 2 folds, ≥ n_folds groups and one stratum that large."""
    _, counts = np.unique(strata, return_counts=True)
    return 2 <= n_folds <= n_groups and len(counts) > 1 and counts.max() >= n_folds
