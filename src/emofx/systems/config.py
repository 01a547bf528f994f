"""The ``systems:`` section of params.yaml: the seed report's modelling family, phase by phase.

Unknown keys are errors (so a typo names its key). Phase 1 runs by default with a small grid; the
spectrogram networks (Phase 2) and PANNs + EmotionMLP (Phase 3) are opt-in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ClassicalModel = Literal["ridge", "lasso", "svr", "random_forest", "gradient_boosting", "xgboost"]
FeatureSet = Literal["full", "pearson", "shap_or_pearson", "shap_and_pearson"]
SpectrogramModel = Literal["cnn", "cnn_se", "cnn_se_gru", "cnn_se_gru_attn"]
Target = Literal["valence_norm", "arousal_norm"]

DEFAULT_GRIDS: dict[str, dict[str, list[Any]]] = {
    "ridge": {"alpha": [1.0, 10.0, 100.0]},
    "lasso": {"alpha": [0.01, 0.1]},
    "svr": {"C": [0.3, 1.0, 3.0]},
    "random_forest": {"n_estimators": [100], "max_features": ["sqrt"]},
    "gradient_boosting": {"n_estimators": [100], "max_depth": [3], "subsample": [0.7]},
    "xgboost": {"n_estimators": [100], "max_depth": [3], "learning_rate": [0.1]},
}
"""Small default grids (the pipeline's whole budget is minutes on 2 cores; tree ensembles get one
point each); params.yaml ``systems.phase1.grids.<model>`` replaces a model's grid."""


#: the ``systems:`` sub-sections that each run one phase (``enabled: auto`` is resolved by
#: ``emofx.config`` from the dataset's annotations)
SYSTEM_PHASES = ("phase1", "spectrogram", "panns_mlp")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Phase1Params(StrictModel):
    """Handcrafted features → feature selection → classical models tuned by k-fold CV on train."""

    enabled: bool = True
    encoder: str = Field("handcrafted", description="embedding store with the 386-d features")
    top_k: int = Field(15, gt=0, description="Pearson / SHAP top-k features per target")
    feature_sets: list[FeatureSet] = Field(
        default_factory=lambda: ["full", "pearson", "shap_or_pearson", "shap_and_pearson"],
        min_length=1,
    )
    models: list[ClassicalModel] = Field(
        default_factory=lambda: [
            "ridge",
            "lasso",
            "svr",
            "random_forest",
            "gradient_boosting",
            "xgboost",
        ],
        min_length=1,
    )
    grids: dict[ClassicalModel, dict[str, list[Any]]] = Field(
        default_factory=dict, description="per-model hyperparameter grid (replaces the default)"
    )
    cv_folds: int = Field(5, ge=2)
    pca: float | int | None = Field(
        None, description="PCA after scaling: variance share in (0, 1) or n components; null: off"
    )
    shap_trees: int = Field(200, gt=0, description="XGBoost rounds of the SHAP model")
    n_jobs: int = Field(1, gt=0, description="GridSearchCV processes")

    @field_validator("feature_sets", "models")
    @classmethod
    def _unique(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate entries in {names}")
        return names

    @field_validator("pca")
    @classmethod
    def _pca(cls, value: float | int | None) -> float | int | None:
        if value is None:
            return value
        if isinstance(value, float) and not 0 < value < 1:
            raise ValueError(f"pca as a variance share must be in (0, 1), got {value}")
        if isinstance(value, int) and value < 1:
            raise ValueError(f"pca as a component count must be >= 1, got {value}")
        return value

    def grid(self, model: str) -> dict[str, list[Any]]:
        return self.grids.get(model, DEFAULT_GRIDS[model])


class SpectrogramParams(StrictModel):
    """Log-mel 3-s chunks → the four networks, trained end to end (LightningCLI configs)."""

    enabled: bool = False
    models: list[SpectrogramModel] = Field(
        default_factory=lambda: ["cnn", "cnn_se", "cnn_se_gru", "cnn_se_gru_attn"], min_length=1
    )
    config_dir: Path = Path("lightning_configs")
    targets: Literal["joint", "separate"] = Field(
        "joint", description="one 2-output network, or one network per target"
    )
    hop_s: float = Field(3.0, gt=0, description="chunk hop (chunks are 3 s)")
    max_epochs: int | None = Field(None, gt=0, description="overrides the config's trainer")
    batch_size: int | None = Field(None, gt=0, description="overrides the config's data")
    limit_train_batches: int | float | None = Field(None, gt=0, description="fast test runs")
    workers: int = Field(2, gt=0, description="threads rendering FX and computing chunks")


class PannsMlpParams(StrictModel):
    """PANNs CNN14 embeddings (the embed stage's store) → EmotionMLP, multitask; t-SNE."""

    enabled: bool = False
    encoder: str = "panns"
    layer: str = "embedding"
    config: Path = Path("lightning_configs/probe.mlp.yaml")
    max_epochs: int | None = Field(None, gt=0)
    batch_size: int | None = Field(None, gt=0)
    tsne: bool = True
    tsne_perplexity: float = Field(30.0, gt=0)


class SystemsParams(StrictModel):
    targets: list[Target] = Field(
        default_factory=lambda: ["valence_norm", "arousal_norm"], min_length=1
    )
    phase1: Phase1Params = Field(default_factory=Phase1Params)
    spectrogram: SpectrogramParams = Field(default_factory=SpectrogramParams)
    panns_mlp: PannsMlpParams = Field(default_factory=PannsMlpParams)
