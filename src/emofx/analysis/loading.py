"""Read the stores the analysis consumes: manifest, conditions, predictions, embeddings.

Every reader validates what it reads and raises :class:`AnalysisInputError` naming the offending
file, key or value; nothing here guesses a missing value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from emofx.embed.store import INDEX, LOUDNESS, META, EmbeddingStore
from emofx.errors import EmofxError
from emofx.fx import conditions as fx_conditions

CLEAN = "clean"
REGRESSION_TARGETS = {"valence": "valence_norm", "arousal": "arousal_norm"}
QUADRANT_NAMES = {1: "excitement", 2: "anger", 3: "sadness", 4: "calmness"}
QUADRANT_PROBS = tuple(f"prob_q{q}" for q in QUADRANT_NAMES)
TASKS = ("regression", "quadrant", "labels")
"""Static probe tasks; every performance and shift row names the one it belongs to."""


class AnalysisInputError(EmofxError, ValueError):
    """An input store is missing, malformed or inconsistent; the message says which and how."""


@dataclass(frozen=True)
class ConditionInfo:
    """A condition as the analysis needs it: grouping keys parsed from the structured fields."""

    id: str
    kind: str
    effect: str  # the effect (or plugin) of a one-step condition, else the kind ("chain", "clean")
    level: float | None  # level of a one-step effect, else None
    loudness: str  # "none" or "match"
    steps_key: str  # canonical JSON of kind + steps + tail: equal for a loudness-matched twin

    @property
    def group(self) -> str:
        """Dose-response group: one effect under one loudness policy (``gain``, ``gain+lufs``)."""
        return self.effect + ("+lufs" if self.loudness == "match" else "")


def load_conditions(path: str | Path) -> dict[str, ConditionInfo]:
    """``conditions.json`` (read and validated by :mod:`emofx.fx.conditions`) → ``{id: info}``
    in file order; effect, level and loudness policy come from each condition's fields."""
    try:
        conditions = fx_conditions.load_conditions(path)
    except ValueError as exc:
        raise AnalysisInputError(str(exc)) from exc
    return {c.id: condition_info(c) for c in conditions}


def condition_info(condition: fx_conditions.Condition) -> ConditionInfo:
    steps = condition.steps
    single = condition.kind in ("effect", "plugin") and len(steps) == 1
    return ConditionInfo(
        id=condition.id,
        kind=condition.kind,
        effect=_step_name(steps[0]) if single else condition.kind,
        level=float(steps[0].level) if single and steps[0].level is not None else None,
        loudness="match" if condition.loudness_match else "none",
        steps_key=json.dumps(
            [condition.kind, [s.model_dump() for s in steps], condition.tail_s], sort_keys=True
        ),
    )


def _step_name(step: fx_conditions.Step) -> str:
    """The registry effect name, or for a plugin step the plugin's name."""
    if step.plugin is None:
        return step.effect
    return step.plugin.plugin_name or Path(step.plugin.path).stem


def loudness_twins(conditions: dict[str, ConditionInfo]) -> list[tuple[str, str]]:
    """``(raw id, loudness-matched id)`` pairs with identical steps, in conditions order."""
    matched = {c.steps_key: c.id for c in conditions.values() if c.loudness == "match"}
    return [
        (c.id, matched[c.steps_key])
        for c in conditions.values()
        if c.loudness == "none" and c.kind != "clean" and c.steps_key in matched
    ]


def load_manifest(path: str | Path) -> pd.DataFrame:
    """Manifest indexed by ``track_id`` (str), with ``labels`` parsed into dicts (or None)."""
    path = Path(path)
    if not path.is_file():
        raise AnalysisInputError(f"{path}: manifest not found")
    manifest = pd.read_parquet(path)
    missing = {"track_id", "split"} - set(manifest.columns)
    if missing:
        raise AnalysisInputError(f"{path}: manifest lacks column(s) {sorted(missing)}")
    manifest["track_id"] = manifest["track_id"].astype(str)
    duplicated = manifest["track_id"][manifest["track_id"].duplicated()]
    if len(duplicated):
        raise AnalysisInputError(f"{path}: duplicate track_id {duplicated.iloc[0]!r}")
    if "labels" in manifest:
        manifest["labels"] = [_parse_labels(v, path) for v in manifest["labels"]]
    return manifest.set_index("track_id")


def _parse_labels(value: object, path: Path) -> dict[str, float] | None:
    if not isinstance(value, str | dict) and pd.isna(value):  # None, NaN, pd.NA
        return None
    try:
        labels = json.loads(value) if isinstance(value, str) else value
        return {str(k): float(v) for k, v in labels.items()}
    except (TypeError, ValueError, AttributeError) as exc:
        raise AnalysisInputError(f"{path}: bad 'labels' value {value!r} ({exc})") from exc


@dataclass
class PredictionSet:
    """All condition files of one (encoder, probe), restricted to one split and aligned by track.

    ``frames[cond]`` is indexed by ``track_id`` in the same order for every condition.
    """

    encoder: str
    probe: str
    frames: dict[str, pd.DataFrame]

    @property
    def track_ids(self) -> pd.Index:
        return self.frames[CLEAN].index

    @cached_property
    def label_names(self) -> list[str]:
        """Multi-label names (``prob_<label>`` columns that are not quadrant probabilities)."""
        cols = self.frames[CLEAN].columns
        quadrant_probs = set(QUADRANT_PROBS) if "pred_quadrant" in cols else set()
        return [c[5:] for c in cols if c.startswith("prob_") and c not in quadrant_probs]

    @property
    def has_regression(self) -> bool:
        return all(f"pred_{t}" in self.frames[CLEAN] for t in REGRESSION_TARGETS.values())

    @property
    def has_classification(self) -> bool:
        return "pred_quadrant" in self.frames[CLEAN]


def find_prediction_files(
    roots: str | Path | Sequence[str | Path], encoders: Sequence[str] | None = None
) -> dict[tuple[str, str], dict[str, Path]]:
    """``<root>/<encoder>/<probe>/<condition>.parquet`` → ``{(encoder, probe): {cond: path}}``.

    Several roots (the probe stage's and the systems stage's) are merged; the first must exist,
    later ones may be absent (a stage that produced nothing). A pair found twice is an error.
    ``encoders``: see :func:`condition_files`.
    """
    roots = [roots] if isinstance(roots, str | Path) else list(roots)
    if not Path(roots[0]).is_dir():
        raise AnalysisInputError(f"{roots[0]}: predictions directory not found")
    found = condition_files(roots, "*.parquet", encoders)
    if not found:
        raise AnalysisInputError(f"{roots[0]}: no <encoder>/<probe>/<condition>.parquet files")
    return found


def condition_files(
    roots: str | Path | Sequence[str | Path],
    pattern: str,
    encoders: Sequence[str] | None = None,
) -> dict[tuple[str, str], dict[str, Path]]:
    """Files ``<root>/<encoder>/<probe>/<pattern>`` under every root that exists →
    ``{(encoder, probe): {condition (file stem): path}}``; a pair under two roots is an error.

    With ``encoders``, folders of the first root (the probe stage's, which is persisted) whose
    encoder is not listed are skipped; later roots (the systems') are read whole.
    """
    roots = [roots] if isinstance(roots, str | Path) else list(roots)
    found: dict[tuple[str, str], dict[str, Path]] = {}
    for k, root in enumerate(Path(r) for r in roots):
        if not root.is_dir():
            continue
        pairs: dict[tuple[str, str], dict[str, Path]] = {}
        for file in sorted(root.glob(f"*/*/{pattern}")):
            encoder, probe = file.relative_to(root).parts[:2]
            if k == 0 and encoders is not None and encoder not in encoders:
                continue
            pairs.setdefault((encoder, probe), {})[file.stem] = file
        clash = sorted(set(pairs) & set(found))
        if clash:
            raise AnalysisInputError(
                f"{root}: {clash} ({pattern}) also found under an earlier root"
            )
        found.update(pairs)
    return found


def check_condition_files(
    files: dict[str, Path], conditions: dict[str, ConditionInfo], where: str
) -> None:
    """``clean`` is among ``files`` and every file's condition is in conditions.json."""
    if CLEAN not in files:
        raise AnalysisInputError(f"{where}: no predictions for condition 'clean'")
    unknown = sorted(set(files) - set(conditions))
    if unknown:
        raise AnalysisInputError(
            f"{files[unknown[0]]}: condition {unknown[0]!r} is not in conditions.json"
        )


def check_rows(frame: pd.DataFrame, path: Path, cond: str, manifest: pd.DataFrame) -> None:
    """Rows of a prediction file (``track_id`` as str): the file's condition, tracks of the
    manifest, and the manifest's split."""
    if "condition" in frame and not (frame["condition"] == cond).all():
        bad = frame.loc[frame["condition"] != cond, "condition"].iloc[0]
        raise AnalysisInputError(f"{path}: row with condition {bad!r}, expected {cond!r}")
    unknown = frame.loc[~frame["track_id"].isin(manifest.index), "track_id"]
    if len(unknown):
        raise AnalysisInputError(f"{path}: track_id {unknown.iloc[0]!r} is not in the manifest")
    disagree = frame["split"].to_numpy() != manifest["split"].reindex(frame["track_id"]).to_numpy()
    if disagree.any():
        tid = frame["track_id"].to_numpy()[disagree][0]
        raise AnalysisInputError(
            f"{path}: track {tid!r} has split {frame['split'].to_numpy()[disagree][0]!r}, "
            f"manifest says {manifest.at[tid, 'split']!r}"
        )


def load_prediction_set(
    encoder: str,
    probe: str,
    files: dict[str, Path],
    manifest: pd.DataFrame,
    conditions: dict[str, ConditionInfo],
    split: str,
) -> PredictionSet:
    """Read one (encoder, probe)'s files, keep ``split`` rows, check every condition has the same
    tracks as ``clean`` (paired comparisons need it) and order conditions as in conditions.json."""
    check_condition_files(files, conditions, f"{encoder}/{probe}")
    frames = {c: _read_predictions(files[c], c, manifest, split) for c in conditions if c in files}
    clean_ids = frames[CLEAN].index
    if len(clean_ids) == 0:
        raise AnalysisInputError(f"{files[CLEAN]}: no tracks of split {split!r}")
    for cond, frame in frames.items():
        if not frame.index.sort_values().equals(clean_ids.sort_values()):
            lost = clean_ids.difference(frame.index)
            extra = frame.index.difference(clean_ids)
            raise AnalysisInputError(
                f"{files[cond]}: {split} tracks differ from clean "
                f"({len(lost)} missing e.g. {list(lost[:3])}, {len(extra)} extra)"
            )
        frames[cond] = frame.loc[clean_ids]
    return PredictionSet(encoder, probe, frames)


def _read_predictions(path: Path, cond: str, manifest: pd.DataFrame, split: str) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    missing = {"track_id", "split"} - set(frame.columns)
    if missing:
        raise AnalysisInputError(f"{path}: missing column(s) {sorted(missing)}")
    frame["track_id"] = frame["track_id"].astype(str)
    check_rows(frame, path, cond, manifest)
    if "repeat" in frame:
        frame = mean_over_repeats(frame)
    if frame["track_id"].duplicated().any():
        raise AnalysisInputError(f"{path}: duplicate track_id rows")
    if "pred_quadrant" in frame and not frame["pred_quadrant"].isin(list(QUADRANT_NAMES)).all():
        bad = frame.loc[~frame["pred_quadrant"].isin(list(QUADRANT_NAMES)), "pred_quadrant"]
        raise AnalysisInputError(f"{path}: pred_quadrant {bad.iloc[0]} is not one of 1-4")
    frame = frame.set_index("track_id")
    held = frame["split"] == split
    if "fold" in frame:  # out of fold (evaluation.protocol cv): every row is held out, none is val
        held = pd.Series(split == "test", index=frame.index)
    return frame[held].drop(columns=["split", "condition"], errors="ignore")


def mean_over_repeats(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per track from repeated cross-validation: each prediction column averaged over
    the repeats (every one out of fold), the quadrant the argmax of the mean probabilities;
    ``fold`` is the first repeat's."""
    first = frame[frame["repeat"] == frame["repeat"].min()].set_index("track_id")
    columns = [c for c in frame if c.startswith(("pred_", "prob_")) and c != "pred_quadrant"]
    means = frame.groupby("track_id", sort=False)[columns].mean()
    out = first.drop(columns="repeat").assign(**{c: means[c].reindex(first.index) for c in columns})
    if "pred_quadrant" in out and all(q in out for q in QUADRANT_PROBS):
        out["pred_quadrant"] = out[list(QUADRANT_PROBS)].to_numpy().argmax(1) + 1
    return out.reset_index()


@dataclass
class EncoderEmbeddings:
    """One encoder's embedding store, validated, with row selection by track id."""

    encoder: str
    store: EmbeddingStore
    meta: dict
    track_ids: pd.Index
    conditions: list[str]  # stored conditions, in conditions.json order

    @property
    def layer_names(self) -> list[str]:
        return list(self.meta["layer_names"])

    def layer_index(self, layer: str | int) -> int:
        """A layer name, or an index (negative counts from the end) → its position."""
        names = self.layer_names
        if isinstance(layer, str):
            if layer not in names:
                raise AnalysisInputError(f"{self.store.root}: layer {layer!r} not in {names}")
            return names.index(layer)
        if not -len(names) <= layer < len(names):
            raise AnalysisInputError(
                f"{self.store.root}: layer index {layer} out of range ({len(names)} layers)"
            )
        return layer % len(names)

    def rows(self, condition: str, track_ids: pd.Index) -> np.ndarray:
        """``[len(track_ids), n_layers, max_dim]`` float64 embeddings of ``track_ids``."""
        positions = self.track_ids.get_indexer(track_ids)
        if (positions < 0).any():
            missing = track_ids[positions < 0][0]
            raise AnalysisInputError(f"{self.store.root}: track {missing!r} not in index.parquet")
        return np.asarray(self.store.load(condition)[positions], dtype=np.float64)

    def layer(self, condition: str, layer: int, track_ids: pd.Index) -> np.ndarray:
        """``[len(track_ids), true_width]`` vectors of one layer (padding removed)."""
        return self.rows(condition, track_ids)[:, layer, : self.meta["layer_dims"][layer]]

    def loudness(self) -> pd.DataFrame | None:
        """``track_id, condition, lufs_in, lufs_out`` or None when the store has no such file."""
        return self.store.loudness() if (self.store.root / LOUDNESS).is_file() else None


def load_embedding_stores(
    root: str | Path,
    conditions: dict[str, ConditionInfo],
    encoders: Sequence[str] | None = None,
) -> list[EncoderEmbeddings]:
    """Every ``<root>/<encoder>/`` with a meta.json (only ``encoders`` when given: the folder is
    persisted, so a dropped encoder's store stays); array shapes are checked, not loaded."""
    root = Path(root)
    if not root.is_dir():
        raise AnalysisInputError(f"{root}: embeddings directory not found")
    out = []
    for meta_file in sorted(root.glob(f"*/{META}")):
        if encoders is not None and meta_file.parent.name not in encoders:
            continue
        store = EmbeddingStore(meta_file.parent)
        meta = _read_json(meta_file)
        for key in ("layer_names", "layer_dims"):
            if key not in meta:
                raise AnalysisInputError(f"{meta_file}: missing key {key!r}")
        dims = meta["layer_dims"]
        if len(meta["layer_names"]) != len(dims):
            raise AnalysisInputError(f"{meta_file}: layer_names and layer_dims differ in length")
        if not (store.root / INDEX).is_file():
            raise AnalysisInputError(f"{store.root / INDEX}: not found")
        track_ids = pd.Index(store.index()["track_id"].astype(str))
        present = [c for c in conditions if (store.root / f"{c}.npy").is_file()]
        if CLEAN not in present:
            raise AnalysisInputError(f"{store.root}: no clean.npy")
        for cond in present:
            shape = store.load(cond).shape
            if shape[:2] != (len(track_ids), len(dims)) or shape[2] < max(dims):
                raise AnalysisInputError(
                    f"{store.root / f'{cond}.npy'}: shape {shape} does not fit {INDEX} "
                    f"({len(track_ids)} rows) and {META} ({len(dims)} layers, max dim {max(dims)})"
                )
        out.append(EncoderEmbeddings(store.root.name, store, meta, track_ids, present))
    return out


def _read_json(path: Path) -> object:
    if not path.is_file():
        raise AnalysisInputError(f"{path}: not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise AnalysisInputError(f"{path}: invalid JSON ({exc})") from exc
