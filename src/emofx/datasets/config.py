"""Typed, validated dataset section of params.yaml (built by ``emofx.config``, used by prepare)."""

from __future__ import annotations

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
