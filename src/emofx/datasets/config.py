"""Typed, validated dataset section of params.yaml (built by ``emofx.config``, used by prepare)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DatasetFormat = Literal["deam", "deam-dynamic", "emopia", "pmemo", "emotify", "csv"]


class SplitFractions(BaseModel):
    """Shares of groups held out for each split; they must sum to 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train: float = Field(0.7, gt=0, le=1)
    val: float = Field(0.15, ge=0, lt=1)
    test: float = Field(0.15, ge=0, lt=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitFractions:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"split fractions must sum to 1, got train={self.train} + val={self.val} "
                f"+ test={self.test} = {total:g}"
            )
        return self


class DatasetParams(BaseModel):
    """One dataset: where it is, how to read it, how to split and trim it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="label for paths/MLflow")
    format: DatasetFormat
    root: Path
    options: dict[str, Any] = Field(default_factory=dict, description="loader keyword options")
    split: SplitFractions = Field(default_factory=SplitFractions)
    clip_seconds: float | None = Field(None, gt=0, description="keep at most this much audio")
    offset_s: float = Field(0.0, ge=0, description="start of the kept audio in the file")
    min_seconds: float = Field(0.0, ge=0, description="reject tracks shorter after offset")
    max_rejected_fraction: float = Field(0.5, ge=0, le=1)
    workers: int = Field(2, ge=1, description="decoding processes")


#: what each format's loader can annotate (``quadrant`` is also derived from valence and arousal)
FORMAT_ANNOTATIONS: dict[str, frozenset[str]] = {
    "deam": frozenset({"valence", "arousal", "quadrant", "dynamic"}),
    "deam-dynamic": frozenset({"valence", "arousal", "quadrant", "dynamic"}),
    "emopia": frozenset({"quadrant"}),
    "pmemo": frozenset({"valence", "arousal", "quadrant", "dynamic"}),
    "emotify": frozenset({"labels"}),
    "csv": frozenset({"valence", "arousal", "quadrant", "labels"}),
}

#: where a format keeps its dynamic (2-Hz) curves, relative to the dataset root (the loaders'
#: ``DYNAMIC_DIR`` / ``DYNAMIC_FILE``; not imported: validating params must not load the loaders)
CURVE_FILES: dict[str, Path] = {
    "deam": Path("annotations/annotations averaged per song/dynamic (per second annotations)"),
    "deam-dynamic": Path(
        "annotations/annotations averaged per song/dynamic (per second annotations)"
    ),
    "pmemo": Path("annotations/dynamic_annotations.csv"),
}
#: the ``csv`` loader's defaults for the options that name its annotation file and columns
CSV_DEFAULTS: dict[str, str] = {
    "annotations": "annotations.csv",
    "sep": ",",
    "valence_column": "valence",
    "arousal_column": "arousal",
    "labels_column": "labels",
}


def dataset_annotations(dataset: DatasetParams) -> frozenset[str]:
    """What the dataset annotates: ``valence``, ``arousal``, ``quadrant``, ``labels``, ``dynamic``.

    The format's :data:`FORMAT_ANNOTATIONS`, narrowed by the files when they exist: a CSV has only
    the targets its header names; DEAM and PMEmo without their dynamic-annotation files have no
    ``dynamic``. A root not created yet (the synthetic corpus before ``emofx synth``) keeps the
    format's set.
    """
    have = FORMAT_ANNOTATIONS[dataset.format]
    root = Path(dataset.root)
    if dataset.format == "csv":
        return have & _csv_targets(root, dataset.options)
    curves = CURVE_FILES.get(dataset.format)
    if curves is not None and root.is_dir() and not (root / curves).exists():
        return have - {"dynamic"}
    return have


def _csv_targets(root: Path, options: dict[str, Any]) -> frozenset[str]:
    """The targets named by a CSV dataset's header (all of them while the file is absent)."""
    opts = {**CSV_DEFAULTS, **options}
    path = root / str(opts["annotations"])
    if not path.is_file():
        return FORMAT_ANNOTATIONS["csv"]
    with open(path, newline="", encoding="utf-8-sig") as f:
        header = [c.strip() for c in next(csv.reader(f, delimiter=opts["sep"]), [])]
    have = {dim for dim in ("valence", "arousal") if opts[f"{dim}_column"] in header}
    if have == {"valence", "arousal"}:
        have.add("quadrant")
    if opts["labels_column"] in header:
        have.add("labels")
    return frozenset(have)
