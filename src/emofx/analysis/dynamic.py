"""Dynamic (2 Hz) valence/arousal predictions: per-song agreement with the annotated curves, and
how every condition changes it, paired per song against ``clean``.

Input: ``<root>/<encoder>/<probe>/dynamic/<condition>.parquet`` with ``track_id, split,
condition, time_s``, the annotation ``<target>_norm`` (NaN where a frame has none) and the
prediction ``pred_<target>_norm`` per configured target. Only annotated frames of the scored split
count; out-of-fold files (``fold``, cv) count every frame, averaged over ``repeat``s. Metrics
follow the MediaEval "Emotion in Music" dynamic task: Pearson r and RMSE per song, averaged over
songs (a song whose annotation or prediction is constant has no r: it is left out of the mean and
counted); plus the frame-level R² and the mean per-song prediction shift vs clean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from emofx.analysis.config import AnalysisParams
from emofx.analysis.loading import (
    CLEAN,
    REGRESSION_TARGETS,
    AnalysisInputError,
    ConditionInfo,
    check_condition_files,
    check_rows,
    condition_files,
)
from emofx.analysis.performance import r2, rmse
from emofx.analysis.statistics import fdr, mean_ci, signed_rank, song_pearson

DYNAMIC_DIR = "dynamic"
KEY_COLUMNS = ("track_id", "split", "condition", "time_s")
FRAME_INDEX = ["track_id", "time_s"]


@dataclass
class DynamicSet:
    """All dynamic condition files of one (encoder, probe) on the scored split.

    ``frames[cond]`` is indexed by ``(track_id, time_s)``, sorted, in the same order for every
    condition, and holds only frames annotated for at least one target.
    """

    encoder: str
    probe: str
    targets: list[str]  # "valence" and/or "arousal"
    frames: dict[str, pd.DataFrame]


@dataclass(frozen=True)
class SongScores:
    """Per-song numbers of one condition and target (songs in ``TargetCurves.songs`` order)."""

    pearson: np.ndarray  # NaN for a song whose annotation or prediction is constant
    rmse: np.ndarray
    mean_prediction: np.ndarray


@dataclass(frozen=True)
class TargetCurves:
    """One target's annotated frames: truth and per-condition predictions, songs contiguous."""

    target: str
    songs: np.ndarray  # one entry per song, in frame order
    bounds: np.ndarray  # frame positions where a new song starts (for np.split)
    truth: np.ndarray
    predictions: dict[str, np.ndarray]

    def per_song(self, values: np.ndarray) -> list[np.ndarray]:
        return np.split(values, self.bounds)


# --- loading -----------------------------------------------------------------------------------
def find_dynamic_files(
    roots: str | Path | Sequence[str | Path], encoders: Sequence[str] | None = None
) -> dict[tuple[str, str], dict[str, Path]]:
    """``<root>/<encoder>/<probe>/dynamic/<condition>.parquet`` → ``{(encoder, probe): {cond:
    path}}`` over every root that exists; a pair found under two roots is an error."""
    return condition_files(roots, f"{DYNAMIC_DIR}/*.parquet", encoders)


def load_dynamic_sets(
    roots: str | Path | Sequence[str | Path],
    manifest: pd.DataFrame,
    conditions: dict[str, ConditionInfo],
    split: str,
    encoders: Sequence[str] | None = None,
) -> list[DynamicSet]:
    """Every dynamic prediction set under ``roots`` (none: an empty list); ``encoders``: see
    :func:`emofx.analysis.loading.condition_files`."""
    return [
        load_dynamic_set(encoder, probe, files, manifest, conditions, split)
        for (encoder, probe), files in find_dynamic_files(roots, encoders).items()
    ]


def load_dynamic_set(
    encoder: str,
    probe: str,
    files: dict[str, Path],
    manifest: pd.DataFrame,
    conditions: dict[str, ConditionInfo],
    split: str,
) -> DynamicSet:
    """Read one (encoder, probe)'s dynamic files, keep ``split`` frames, check every condition has
    clean's frames and order conditions as in conditions.json."""
    check_condition_files(files, conditions, f"{encoder}/{probe}/{DYNAMIC_DIR}")
    raw = {c: pd.read_parquet(files[c]) for c in conditions if c in files}
    targets = _targets(raw[CLEAN], files[CLEAN])
    frames = {c: _validated(raw[c], files[c], c, targets, manifest, split) for c in raw}
    clean = frames[CLEAN].sort_index()
    annotated = clean[[REGRESSION_TARGETS[t] for t in targets]].notna().any(axis=1).to_numpy()
    if not annotated.any():
        raise AnalysisInputError(f"{files[CLEAN]}: no annotated frames of split {split!r}")
    for cond, frame in frames.items():
        _check_same_frames(frame.index, clean.index, files[cond], split)
        frames[cond] = frame.reindex(clean.index)[annotated]
        _check_predictions(frames[cond], targets, files[cond])
    return DynamicSet(encoder, probe, targets, frames)


def _targets(frame: pd.DataFrame, path: Path) -> list[str]:
    """Targets with an annotation or prediction column in the clean file."""
    columns = set(frame.columns)
    targets = [t for t, col in REGRESSION_TARGETS.items() if {col, f"pred_{col}"} & columns]
    if not targets:
        expected = [c for col in REGRESSION_TARGETS.values() for c in (col, f"pred_{col}")]
        raise AnalysisInputError(f"{path}: missing target column(s), expected some of {expected}")
    return targets


def _validated(
    frame: pd.DataFrame,
    path: Path,
    cond: str,
    targets: list[str],
    manifest: pd.DataFrame,
    split: str,
) -> pd.DataFrame:
    """One file's ``split`` frames indexed by ``(track_id, time_s)``, validated."""
    columns = [c for t in targets for c in (REGRESSION_TARGETS[t], f"pred_{REGRESSION_TARGETS[t]}")]
    missing = [c for c in (*KEY_COLUMNS, *columns) if c not in frame.columns]
    if missing:
        raise AnalysisInputError(f"{path}: missing column(s) {missing}")
    frame["track_id"] = frame["track_id"].astype(str)
    check_rows(frame, path, cond, manifest)
    out_of_fold = "fold" in frame  # evaluation.protocol cv: every frame is held out
    if "repeat" in frame:  # repeated cv: every repeat out of fold, predictions averaged
        frame = frame.groupby([*FRAME_INDEX, "split"], sort=False, as_index=False)[columns].mean()
    if frame.duplicated(FRAME_INDEX).any():
        raise AnalysisInputError(f"{path}: duplicate (track_id, time_s) rows")
    if out_of_fold:
        frame = frame if split == "test" else frame.iloc[:0]
    else:
        frame = frame[frame["split"] == split]
    return frame.set_index(FRAME_INDEX)[columns].astype(np.float64)


def _check_same_frames(index: pd.MultiIndex, clean: pd.MultiIndex, path: Path, split: str) -> None:
    if len(index) == len(clean) and index.sort_values().equals(clean):
        return
    lost, extra = clean.difference(index), index.difference(clean)
    raise AnalysisInputError(
        f"{path}: {split} frames (track_id, time_s) differ from clean "
        f"({len(lost)} missing e.g. {list(lost[:3])}, {len(extra)} extra e.g. {list(extra[:3])})"
    )


def _check_predictions(frame: pd.DataFrame, targets: list[str], path: Path) -> None:
    for target in targets:
        column = REGRESSION_TARGETS[target]
        gaps = frame[column].notna() & frame[f"pred_{column}"].isna()
        if gaps.any():
            raise AnalysisInputError(
                f"{path}: pred_{column} is NaN at {int(gaps.sum())} annotated frame(s), "
                f"e.g. {gaps.index[gaps.to_numpy()][0]}"
            )


# --- scores ------------------------------------------------------------------------------------
def target_curves(dset: DynamicSet, target: str) -> TargetCurves:
    """The frames annotated for ``target``, songs contiguous (frames are sorted by track)."""
    column = REGRESSION_TARGETS[target]
    clean = dset.frames[CLEAN]
    keep = clean[column].notna().to_numpy()
    ids = clean.index.get_level_values("track_id").to_numpy()[keep]
    bounds = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    return TargetCurves(
        target,
        ids[np.r_[0, bounds]] if len(ids) else ids,  # first frame of each song
        bounds,
        clean[column].to_numpy()[keep],
        {c: f[f"pred_{column}"].to_numpy()[keep] for c, f in dset.frames.items()},
    )


def song_scores(curves: TargetCurves, cond: str) -> SongScores:
    truth, prediction = curves.per_song(curves.truth), curves.per_song(curves.predictions[cond])
    return SongScores(
        song_pearson(truth, prediction),
        np.array([rmse(y, p) for y, p in zip(truth, prediction, strict=True)]),
        np.array([p.mean() for p in prediction]),
    )


def _finite_mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else np.nan


def _delta(name: str, diffs: np.ndarray, params: AnalysisParams, seed: int) -> dict:
    """``{name, name_ci_low, name_ci_high}``: mean paired difference and its bootstrap CI."""
    low, high = mean_ci(diffs, params, seed)
    mean = float(diffs.mean()) if len(diffs) else np.nan
    return {name: mean, f"{name}_ci_low": low, f"{name}_ci_high": high}


def _condition_row(
    curves: TargetCurves,
    cond: str,
    scores: dict[str, SongScores],
    params: AnalysisParams,
    seed: int,
) -> dict:
    clean, now = scores[CLEAN], scores[cond]
    paired = np.isfinite(now.pearson) & np.isfinite(clean.pearson)
    shifts = now.mean_prediction - clean.mean_prediction
    with np.errstate(divide="ignore", invalid="ignore"):
        frame_r2 = float(r2(curves.truth, curves.predictions[cond]))
    row = {
        "condition": cond,
        "target": curves.target,
        "n_songs": len(curves.songs),
        "n_frames": len(curves.truth),
        "n_songs_excluded": int((~np.isfinite(now.pearson)).sum()),
        "song_pearson": _finite_mean(now.pearson),
        "song_rmse": float(now.rmse.mean()),
        "frame_r2": frame_r2,
        "clean_song_pearson": _finite_mean(clean.pearson),
        "clean_song_rmse": float(clean.rmse.mean()),
        "n_songs_paired": int(paired.sum()),
    }
    row |= _delta("delta_song_pearson", now.pearson[paired] - clean.pearson[paired], params, seed)
    row |= _delta("delta_song_rmse", now.rmse - clean.rmse, params, seed)
    row |= _delta("shift", shifts, params, seed)
    test = signed_rank(shifts) if cond != CLEAN else None
    row["shift_effect_size"] = test.rank_biserial if test else np.nan
    row["shift_p_value"] = test.p_value if test else np.nan
    return row


def dynamic_table(dset: DynamicSet, params: AnalysisParams, seed: int) -> pd.DataFrame:
    """One row per (condition, target): song r/RMSE, frame R², paired deltas vs clean with
    bootstrap CIs over songs, and the Wilcoxon test of the per-song shift, BH across conditions."""
    rows = []
    for target in dset.targets:
        curves = target_curves(dset, target)
        if not len(curves.truth):
            continue  # no frame of this target annotated in the split
        scores = {c: song_scores(curves, c) for c in dset.frames}
        family = [_condition_row(curves, c, scores, params, seed) for c in dset.frames]
        q = fdr([r["shift_p_value"] for r in family])
        rows += [r | {"shift_q_value": qv} for r, qv in zip(family, q, strict=True)]
    table = pd.DataFrame(rows)
    table.insert(0, "probe", dset.probe)
    table.insert(0, "encoder", dset.encoder)
    return table


def dynamic_metrics(table: pd.DataFrame) -> dict:
    """Clean key figures for metrics.json: ``{<enc>: {<probe>: {<target>: {clean_song_pearson,
    clean_song_rmse}}}}`` (finite values only; empty without dynamic predictions)."""
    metrics: dict = {}
    for r in table[table["condition"] == CLEAN].itertuples() if len(table) else []:
        values = {"clean_song_pearson": r.song_pearson, "clean_song_rmse": r.song_rmse}
        finite = {k: round(float(v), 4) for k, v in values.items() if np.isfinite(v)}
        if finite:
            metrics.setdefault(r.encoder, {}).setdefault(r.probe, {})[r.target] = finite
    return metrics


# --- figure selections -------------------------------------------------------------------------
def curve_songs(dset: DynamicSet, n: int = 3) -> list[str]:
    """The ``n`` songs with the most annotated frames (ties: by track id)."""
    ids = dset.frames[CLEAN].index.get_level_values("track_id")
    counts = pd.Series(ids).value_counts()
    order = sorted(counts.index, key=lambda tid: (-counts[tid], tid))
    return order[:n]


def largest_shift_conditions(table: pd.DataFrame, n: int = 2) -> list[str]:
    """The ``n`` non-clean conditions with the largest |mean shift| (largest over targets)."""
    rows = table[table["condition"] != CLEAN]
    if rows.empty:
        return []
    size = rows.assign(size=rows["shift"].abs()).groupby("condition", sort=False)["size"].max()
    return list(size.sort_values(ascending=False, kind="stable").index[:n])
