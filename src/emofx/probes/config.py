"""The ``probe:`` section of params.yaml (unknown keys are errors, so a typo names its key)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

ProbeName = Literal["mlp", "xgboost", "ridge", "lasso", "svr", "random_forest", "gradient_boosting"]
TaskName = Literal["regression", "quadrant", "labels", "dynamic"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: the XGBoost knobs ``probe.xgboost.grid`` may search
GRID_KNOBS = (
    "n_estimators",
    "max_depth",
    "learning_rate",
    "subsample",
    "colsample_bytree",
    "min_child_weight",
)


class XGBoostParams(StrictModel):
    """XGBoost hyperparameters; early-stopped on val, or chosen by a k-fold grid search on train.

    With ``grid`` (``{knob: [values]}``) the grid's knobs are chosen by ``cv_folds``-fold
    cross-validation on the train rows (folds group-disjoint, seeded) and the model is refitted on
    train with them, without early stopping (``early_stopping_rounds`` is unused; put
    ``n_estimators`` in the grid to choose the number of rounds).
    """

    n_estimators: int = Field(400, gt=0)
    max_depth: int = Field(4, gt=0)
    learning_rate: float = Field(0.05, gt=0, le=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    min_child_weight: float = Field(1.0, ge=0)
    early_stopping_rounds: int = Field(30, gt=0)
    n_jobs: int = Field(
        1, gt=0, description="probe data is tiny: more OpenMP threads only add sync (30x slower)"
    )
    grid: dict[str, list[int | float]] | None = Field(
        None, description="null: early stopping on val; {knob: [values]}: k-fold grid search"
    )
    cv_folds: int = Field(3, ge=2, description="folds of the grid search")

    @model_validator(mode="after")
    def _grid_values(self) -> XGBoostParams:
        """Each grid value must be a valid value of its knob; ints stay ints (max_depth 3)."""
        if self.grid is None:
            return self
        checked: dict[str, list[int | float]] = {}
        for knob, values in self.grid.items():
            if knob not in GRID_KNOBS:
                raise ValueError(f"grid: {knob!r} is not a searchable knob (known: {GRID_KNOBS})")
            if not values or len(set(values)) != len(values):
                raise ValueError(f"grid.{knob}: needs distinct values, got {values}")
            try:
                checked[knob] = [getattr(XGBoostParams(**{knob: v}), knob) for v in values]
            except ValidationError as exc:
                raise ValueError(f"grid.{knob}: {exc.errors()[0]['msg']} ({values})") from None
        self.grid = checked
        return self

    def model_kwargs(self) -> dict[str, int | float]:
        """The XGBoost constructor arguments (the grid search settings are not among them)."""
        return self.model_dump(exclude={"grid", "cv_folds"})


class MlpParams(StrictModel):
    """The MLP's LightningCLI config plus the knobs params.yaml may override (null: the config's).

    Overrides exist so that ``dvc exp run -S probe.mlp.lr=…`` changes one value without editing
    the LightningCLI file.
    """

    config: Path = Path("lightning_configs/probe.mlp.yaml")
    preset: Literal["emotion_mlp", "marble"] | None = None
    hidden_sizes: list[int] | None = None
    dropout: float | None = Field(None, ge=0, lt=1)
    lr: float | None = Field(None, gt=0)
    weight_decay: float | None = Field(None, ge=0)
    layer_mode: Literal["single", "weighted"] | None = None
    max_epochs: int | None = Field(None, gt=0)
    batch_size: int | None = Field(None, gt=0)
    seeds: int = Field(
        1, ge=1, description="fits per MLP probe (seed, seed+1, …): the spread is reported"
    )

    @field_validator("hidden_sizes")
    @classmethod
    def _positive(cls, sizes: list[int] | None) -> list[int] | None:
        if sizes is not None and any(s <= 0 for s in sizes):
            raise ValueError(f"hidden sizes must be positive, got {sizes}")
        return sizes

    def overrides(self) -> dict[str, object]:
        """The model init_args set here (everything except ``config``, trainer and data knobs)."""
        return self.model_dump(
            exclude={"config", "max_epochs", "batch_size", "seeds"}, exclude_none=True
        )


Positive = Annotated[float, Field(gt=0)]


class ClassicalParams(StrictModel):
    """The seed report's sklearn suite (inputs standardised on train).

    ``auto`` chooses the regularisation on val from a log grid; the model is then fitted on train.
    """

    ridge_alpha: Positive | Literal["auto"] = "auto"
    lasso_alpha: Positive | Literal["auto"] = "auto"
    svr_c: Positive | Literal["auto"] = "auto"
    random_forest_trees: int = Field(200, gt=0)
    gradient_boosting_trees: int = Field(100, gt=0)
    n_jobs: int = Field(1, gt=0, description="random forest threads")


class TuneParams(StrictModel):
    """Optuna search: TPE sampler, pruning through the Lightning / XGBoost callbacks."""

    probes: list[ProbeName] = Field(default_factory=list)
    n_trials: int = Field(20, gt=0)
    timeout_s: float | None = Field(None, gt=0)
    storage: str = Field(
        "optuna/journal.log",
        description="a file path (Optuna journal file) or an RDB URL such as sqlite:///x.db",
    )
    pruner: Literal["median", "hyperband", "none"] = "median"
    n_startup_trials: int = Field(5, ge=0, description="trials before pruning starts")
    n_warmup_steps: int = Field(10, ge=0, description="epochs / boosting rounds never pruned")
    heartbeat_s: int = Field(
        10, gt=0, description="RDB storage: trial heartbeat; silent 3x this → failed, re-queued"
    )


class ProbeParams(StrictModel):
    probes: list[ProbeName] = Field(default_factory=lambda: ["xgboost"], min_length=1)
    tasks: list[TaskName] = Field(default_factory=lambda: ["regression"], min_length=1)
    targets: list[Literal["valence_norm", "arousal_norm"]] = Field(
        default_factory=lambda: ["valence_norm", "arousal_norm"], min_length=1
    )
    layer: int | str = Field("best", description='"best" (chosen on val), an index or a name')
    register_models: bool = Field(True, description="log models and register them in MLflow")
    xgboost: XGBoostParams = Field(default_factory=XGBoostParams)
    mlp: MlpParams = Field(default_factory=MlpParams)
    classical: ClassicalParams = Field(default_factory=ClassicalParams)
    tune: TuneParams = Field(default_factory=TuneParams)

    @field_validator("probes", "tasks", "targets")
    @classmethod
    def _unique(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate entries in {names}")
        return names

    @model_validator(mode="after")
    def _tuned_probes_are_run(self) -> ProbeParams:
        missing = [p for p in self.tune.probes if p not in self.probes]
        if missing:
            raise ValueError(f"tune.probes: {missing} not in probe.probes {self.probes}")
        if "xgboost" in self.tune.probes and self.xgboost.grid is not None:
            raise ValueError(
                "xgboost is both tuned (tune.probes) and grid-searched (xgboost.grid): choose one"
            )
        return self
