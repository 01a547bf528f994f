"""XGBoost probes: fitted on train, early-stopped on val (trees need no input scaling).

- regression: one multi-output regressor (one tree per target per round, squared error);
- quadrant: a 4-class softprob classifier;
- labels: a multi-output logistic regressor (``reg:logistic`` accepts proportions in [0, 1]).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xgboost import XGBClassifier, XGBModel, XGBRegressor

from emofx.probes.config import TaskName, XGBoostParams

# The val metric early stopping (and Optuna pruning) watches, per task.
EVAL_METRIC: dict[str, str] = {
    "regression": "rmse",
    "dynamic": "rmse",
    "quadrant": "mlogloss",
    "labels": "logloss",
}


def xgb_model(task: TaskName, params: XGBoostParams, seed: int, **overrides: Any) -> XGBModel:
    kwargs = params.model_dump() | overrides
    kwargs |= {"random_state": seed, "tree_method": "hist", "eval_metric": EVAL_METRIC[task]}
    if task == "quadrant":
        return XGBClassifier(objective="multi:softprob", **kwargs)
    if task == "labels":
        return XGBRegressor(objective="reg:logistic", **kwargs)
    return XGBRegressor(objective="reg:squarederror", **kwargs)


def fit_xgb(
    task: TaskName,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    params: XGBoostParams,
    seed: int,
    *,
    callbacks: list | None = None,
    **overrides: Any,
) -> XGBModel:
    """Fit on train; stop when the val metric has not improved for ``early_stopping_rounds``."""
    model = xgb_model(task, params, seed, **overrides)
    if callbacks:
        model.set_params(callbacks=callbacks)
    model.fit(x_train, y_train, eval_set=[(x_val, y_val)], verbose=False)
    model.set_params(callbacks=None)  # pruning callbacks hold the trial; keep the model portable
    return model


def predict_xgb(task: TaskName, model: XGBModel, x: np.ndarray) -> np.ndarray:
    """Outputs ``[n, k]``: values (regression), class probabilities, or label probabilities."""
    if task == "quadrant":
        return model.predict_proba(x).astype(np.float64)
    return np.asarray(model.predict(x), dtype=np.float64).reshape(len(x), -1)


def val_loss(model: XGBModel, task: TaskName) -> float:
    """Best val value of the early-stopping metric."""
    history = model.evals_result()["validation_0"][EVAL_METRIC[task]]
    return float(history[model.best_iteration])
