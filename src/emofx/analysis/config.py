"""Typed knobs of the analyze stage (the ``analysis`` block of params.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ProjectionParams(BaseModel):
    """2-D projection of embeddings (clean + every FX level) for the trajectory figures."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["umap", "tsne"] = "umap"
    layer: str | int = Field(-1, description="layer name or index (negative counts from the end)")
    max_tracks: int = Field(40, ge=2, description="test tracks drawn (seeded) into the projection")
    n_neighbors: int = Field(15, ge=2)
    min_dist: float = Field(0.1, ge=0.0)
    metric: str = "cosine"
    n_epochs: int = Field(200, ge=10, description="UMAP optimisation epochs")
    perplexity: float = Field(30.0, gt=0.0, description="t-SNE only")


class FindingsParams(BaseModel):
    """Which effect names the seed paper's claims refer to (names as in conditions.json)."""

    model_config = ConfigDict(extra="forbid")

    distortion_effects: list[str] = ["distortion"]
    variability_effects: list[str] = ["chorus", "delay"]


class AnalysisParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    split: str = Field(
        "test", description="held-out data scored: the test split, or out of fold under cv"
    )
    n_bootstrap: int = Field(1000, ge=100, description="resamples for paired bootstrap CIs")
    confidence_level: float = Field(0.95, gt=0.5, lt=1.0)
    fdr_alpha: float = Field(0.05, gt=0.0, lt=1.0, description="Benjamini–Hochberg level")
    label_threshold: float = Field(
        0.5, gt=0.0, lt=1.0, description="multi-label: proportion/probability counted as present"
    )
    survive_fraction: float = Field(
        0.5, gt=0.0, le=1.0, description="loudness control: share of the raw shift that must remain"
    )
    projection: ProjectionParams = ProjectionParams()
    findings: FindingsParams = FindingsParams()

    @field_validator("split")
    @classmethod
    def _held_out(cls, split: str) -> str:
        """Only held-out predictions measure a model: train rows were fitted, val rows chose."""
        if split != "test":
            raise ValueError(
                f"{split!r}: only held-out data is scored, 'test' (the test split, or every "
                "track's out-of-fold prediction under evaluation.protocol cv); train and val "
                "predictions come from data the probes were fitted or selected on"
            )
        return split
