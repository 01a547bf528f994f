"""The ``evaluation:`` section of params.yaml: how probes and systems are held out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Protocol = Literal["split", "cv"]


class EvaluationParams(BaseModel):
    """``split``: the manifest's train/val/test; ``cv``: K folds, every track held out once.

    ``auto`` resolves from the manifest size when a stage runs: ``cv`` below ``auto_cv_below``
    tracks (a fixed 15 % test split of a small dataset scores too few tracks), else ``split``.
    """

    model_config = ConfigDict(extra="forbid")

    protocol: Literal["auto", "split", "cv"] = "auto"
    folds: int = Field(5, ge=2, description="K of the cross-validation")
    repeats: int = Field(1, ge=1, description="repeated K-fold: each repeat reshuffles the folds")
    auto_cv_below: int = Field(2000, gt=0, description="auto: cv when fewer tracks than this")

    def resolve(self, n_tracks: int) -> Protocol:
        """The protocol a stage runs for a manifest of ``n_tracks`` tracks."""
        if self.protocol != "auto":
            return self.protocol
        return "cv" if n_tracks < self.auto_cv_below else "split"
