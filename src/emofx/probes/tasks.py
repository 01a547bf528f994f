"""Probe tasks: targets from the manifest, aligned with the embedding store's rows.

- ``regression``: ``valence_norm`` / ``arousal_norm`` (multitask) → ``pred_<target>`` columns;
- ``quadrant``: 4-class (Q1..Q4) → ``pred_quadrant`` and ``prob_q1..prob_q4``;
- ``labels``: multi-label proportions (or 0/1) from the manifest's ``labels`` JSON →
  ``prob_<label>``.
  A label absent from a track's JSON counts as proportion 0.
- ``dynamic``: valence/arousal at 2 Hz (DEAM, PMEmo) on the frame-level store's rows: each frame
  takes the annotation nearest its time (within half a hop) → ``pred_<target>`` per frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emofx.probes.config import TaskName

SPLITS = ("train", "val", "test")
N_QUADRANTS = 4


@dataclass(frozen=True)
class TaskData:
    """The labelled store rows of one task with their targets and splits."""

    task: TaskName
    outputs: list[str]  # target names, label names or q1..q4
    rows: np.ndarray  # store row index of each labelled track
    y: np.ndarray  # [n, k] float targets; [n] int class 0..3 for quadrant
    split: np.ndarray
    groups: np.ndarray | None = None  # track id of each row (dynamic: many frames per track)

    def mask(self, split: str) -> np.ndarray:
        return self.split == split

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)


def build_task(
    task: TaskName, index: pd.DataFrame, manifest: pd.DataFrame, targets: list[str]
) -> TaskData:
    """Join store ``index`` (track_id, split) with the manifest; keep rows labelled for ``task``."""
    columns = {"regression": targets, "quadrant": ["quadrant"], "labels": ["labels"]}[task]
    missing = [c for c in ["track_id", *columns] if c not in manifest.columns]
    if missing:
        raise ValueError(f"probe task {task!r}: manifest has no column(s) {missing}")
    table = (
        index[["track_id", "split"]]
        .astype(str)
        .merge(
            manifest[["track_id", *columns]].astype({"track_id": str}),
            on="track_id",
            how="left",
            validate="1:1",
        )
    )
    keep = table[columns].notna().all(axis=1).to_numpy()
    labelled = table.loc[keep]
    if task == "regression":
        outputs, y = list(targets), labelled[targets].to_numpy(dtype=np.float64)
    elif task == "quadrant":
        outputs, y = quadrant_targets(labelled)
    else:
        outputs, y = label_targets(labelled)
    data = TaskData(task, outputs, np.flatnonzero(keep), y, labelled["split"].to_numpy(dtype=str))
    for split in SPLITS:
        if not data.mask(split).any():
            raise ValueError(f"probe task {task!r}: no labelled tracks in the {split} split")
    return data


def build_dynamic_task(
    index: pd.DataFrame, curves: pd.DataFrame, targets: list[str], hop_s: float
) -> TaskData:
    """Frame store ``index`` (track_id, split, time_s) joined with the dynamic ``curves``.

    Each frame takes the annotation nearest its time within ``hop_s / 2`` (frames and annotations
    share the 2-Hz grid, so it is a 1:1 match); frames without one are left out.
    """
    missing = [c for c in ["track_id", "time_s", *targets] if c not in curves.columns]
    if missing:
        raise ValueError(f"probe task 'dynamic': dynamic curves have no column(s) {missing}")
    frames = index[["track_id", "split", "time_s"]].astype({"track_id": str})
    frames = frames.assign(row=np.arange(len(frames))).sort_values("time_s", kind="stable")
    annotated = (
        curves[["track_id", "time_s", *targets]]
        .astype({"track_id": str, "time_s": "float64"})
        .dropna()
        .sort_values("time_s", kind="stable")
    )
    joined = pd.merge_asof(
        frames,
        annotated,
        on="time_s",
        by="track_id",
        direction="nearest",
        tolerance=hop_s / 2 + 1e-6,
    ).sort_values("row", kind="stable")
    labelled = joined.dropna(subset=targets)
    data = TaskData(
        "dynamic",
        list(targets),
        labelled["row"].to_numpy(),
        labelled[targets].to_numpy(dtype=np.float64),
        labelled["split"].to_numpy(dtype=str),
        labelled["track_id"].to_numpy(dtype=str),
    )
    for split in SPLITS:
        if not data.mask(split).any():
            raise ValueError(f"probe task 'dynamic': no annotated frames in the {split} split")
    return data


def quadrant_targets(labelled: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    quadrant = labelled["quadrant"].to_numpy(dtype=np.int64)
    bad = labelled.loc[~np.isin(quadrant, [1, 2, 3, 4]), "track_id"].tolist()
    if bad:
        raise ValueError(f"probe task 'quadrant': quadrant not in 1..4 for tracks {bad[:5]}")
    absent = sorted(set(range(1, 5)) - set(quadrant[labelled["split"].to_numpy() == "train"]))
    if absent:
        raise ValueError(f"probe task 'quadrant': no train tracks in quadrant(s) {absent}")
    return [f"q{q}" for q in range(1, 5)], quadrant - 1


def label_targets(labelled: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    parsed = []
    for track_id, raw in zip(labelled["track_id"], labelled["labels"], strict=True):
        try:
            labels = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"track {track_id}: labels is not JSON ({exc}): {raw!r}") from None
        if not isinstance(labels, dict):
            raise ValueError(f"track {track_id}: labels must be a JSON object, got {raw!r}")
        for name, value in labels.items():
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"track {track_id}: label {name!r} = {value!r} not in [0, 1]")
        parsed.append(labels)
    names = sorted({name for labels in parsed for name in labels})
    if not names:
        raise ValueError("probe task 'labels': every labels JSON is empty")
    y = np.array([[labels.get(n, 0.0) for n in names] for labels in parsed], dtype=np.float64)
    return names, y


def prediction_columns(data: TaskData, pred: np.ndarray) -> dict[str, np.ndarray]:
    """Model outputs ``[n, k]`` → the prediction-file columns of DESIGN.md."""
    if data.task in ("regression", "dynamic"):
        return {f"pred_{t}": pred[:, j] for j, t in enumerate(data.outputs)}
    if data.task == "quadrant":
        return {"pred_quadrant": pred.argmax(1) + 1} | {
            f"prob_{q}": pred[:, j] for j, q in enumerate(data.outputs)
        }
    return {f"prob_{label}": pred[:, j] for j, label in enumerate(data.outputs)}
