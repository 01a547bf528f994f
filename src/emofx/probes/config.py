"""The ``probe:`` section of params.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class XGBoostParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_estimators: int = Field(400, gt=0)
    max_depth: int = Field(4, gt=0)
    learning_rate: float = Field(0.05, gt=0, le=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    min_child_weight: float = Field(1.0, ge=0)
    early_stopping_rounds: int = Field(30, gt=0)
    n_jobs: int = Field(2, gt=0)


class ProbeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    probes: list[Literal["xgboost"]] = Field(default_factory=lambda: ["xgboost"], min_length=1)
    targets: list[Literal["valence_norm", "arousal_norm"]] = Field(
        default_factory=lambda: ["valence_norm", "arousal_norm"], min_length=1
    )
    layer: int | str = "best"
    xgboost: XGBoostParams = Field(default_factory=XGBoostParams)
