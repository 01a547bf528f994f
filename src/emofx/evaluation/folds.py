"""Cross-validation folds over the manifest's tracks, shared by the probe and systems stages.

Folds are seeded, group-disjoint (a ``group_id``, e.g. the clips of one song, never straddles two
folds) and stratified (``StratifiedGroupKFold``) by quadrant, else by a track's strongest label,
else not at all. Inside each fold's training part an inner validation split (one of ``K - 1``
group-disjoint folds of the training tracks, the size of a held-out fold) is what early stopping,
layer sweeps, ``auto`` regularisation and Optuna see; the held-out fold is never seen by any of
them. The ``final`` fold (no held-out tracks: train + inner val over every track) fits the model
that is logged and registered.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from emofx.errors import EmofxError
from emofx.evaluation.config import EvaluationParams

VALIDATION_FILE = "validation.json"
"""Beside a cross-validated probe's predictions: each task's mean inner-validation score over the
folds, so the report chooses probes without looking at the held-out predictions."""

FINAL = -1  # fold number of the refit on every track


class FoldError(EmofxError, ValueError):
    """Folds that cannot be drawn from this manifest (too few groups, duplicate tracks)."""


@dataclass(frozen=True)
class Fold:
    """One fit of the protocol: each track's role (``train``, ``val`` or ``test`` = held out)."""

    repeat: int
    fold: int  # 0..K-1, or FINAL
    split: pd.Series  # track_id (str) → train | val | test

    @property
    def name(self) -> str:
        return "final" if self.fold == FINAL else f"repeat-{self.repeat}/fold-{self.fold}"

    def roles(self, track_ids: np.ndarray) -> np.ndarray:
        """Roles of ``track_ids`` (str array) in this fold."""
        return self.split.reindex(pd.Index(track_ids).astype(str)).to_numpy(dtype=str)


def strata(manifest: pd.DataFrame) -> np.ndarray:
    """Per track: its quadrant, else its strongest label, else one stratum for all."""
    if "quadrant" in manifest and manifest["quadrant"].notna().any():
        return manifest["quadrant"].astype("string").fillna("<null>").to_numpy(dtype=str)
    if "labels" in manifest and manifest["labels"].notna().any():
        return np.array([_top_label(v) for v in manifest["labels"]], dtype=str)
    return np.zeros(len(manifest), dtype=str)


def _top_label(raw: object) -> str:
    if raw is None or (not isinstance(raw, str | dict) and pd.isna(raw)):
        return "<null>"
    labels = json.loads(raw) if isinstance(raw, str) else raw
    return max(sorted(labels), key=labels.get) if labels else "<null>"


def groups(manifest: pd.DataFrame) -> np.ndarray:
    """Each track's ``group_id`` (its own id where there is none)."""
    ids = manifest["track_id"].astype(str)
    if "group_id" not in manifest:
        return ("track:" + ids).to_numpy(dtype=str)
    return manifest["group_id"].astype("string").fillna("track:" + ids).to_numpy(dtype=str)


def _kfold(y: np.ndarray, g: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Held-out row indices of ``k`` seeded stratified group-disjoint folds."""
    n_groups = len(np.unique(g))
    if n_groups < k:
        raise FoldError(
            f"evaluation.folds: {k} folds need at least {k} groups (songs), got {n_groups}; "
            "lower evaluation.folds or use evaluation.protocol: split"
        )
    if np.unique(y, return_counts=True)[1].max() < k:  # every stratum smaller than a fold
        y = np.zeros(len(y), dtype=str)  # (a tiny dataset): group-disjoint, not stratified
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # rare strata are expected; they just spread unevenly
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        return [held for _, held in splitter.split(np.zeros((len(y), 1)), y, g)]


def cv_folds(manifest: pd.DataFrame, params: EvaluationParams, seed: int) -> list[Fold]:
    """Every (repeat, fold) of the protocol, then the final refit; a pure function of the
    manifest's track ids, groups and strata, ``params`` and ``seed``."""
    ids = manifest["track_id"].astype(str).to_numpy()
    if len(set(ids)) != len(ids):
        raise FoldError("evaluation: duplicate track_id in the manifest")
    y, g = strata(manifest), groups(manifest)
    inner_k = max(params.folds - 1, 2)
    out = []
    for repeat in range(params.repeats):
        for k, held in enumerate(_kfold(y, g, params.folds, seed + repeat)):
            roles = np.full(len(ids), "train", dtype=object)
            roles[held] = "test"
            train = np.flatnonzero(roles == "train")
            val = _kfold(y[train], g[train], inner_k, seed + 7919 * (repeat + 1) + k)[0]
            roles[train[val]] = "val"
            out.append(Fold(repeat, k, pd.Series(roles, index=ids, dtype=str)))
    roles = np.full(len(ids), "train", dtype=object)
    roles[_kfold(y, g, params.folds, seed + 104729)[0]] = "val"
    out.append(Fold(0, FINAL, pd.Series(roles, index=ids, dtype=str)))
    return out


def held_out(folds: list[Fold]) -> list[Fold]:
    """The folds with held-out tracks (everything but the final refit)."""
    return [f for f in folds if f.fold != FINAL]


def final(folds: list[Fold]) -> Fold:
    return next(f for f in folds if f.fold == FINAL)


def fold_columns(folds: list[Fold], track_ids: np.ndarray, repeat: int) -> np.ndarray:
    """The held-out fold of each of ``track_ids`` in ``repeat``."""
    out = np.full(len(track_ids), -1, dtype=np.int64)
    for f in held_out(folds):
        if f.repeat == repeat:
            out[f.roles(track_ids) == "test"] = f.fold
    if (out < 0).any():
        missing = np.asarray(track_ids)[out < 0][:3].tolist()
        raise FoldError(f"evaluation: tracks {missing} are in no fold (not in the manifest)")
    return out
