"""XGBoost probes: fitted on train, early-stopped on val."""

from __future__ import annotations

import numpy as np
from xgboost import XGBRegressor

from emofx.probes.config import XGBoostParams


def fit_xgb_regressor(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    params: XGBoostParams,
    seed: int,
) -> XGBRegressor:
    """Multi-target regressor (one tree per target per round); stops when val RMSE stalls."""
    model = XGBRegressor(
        n_estimators=params.n_estimators,
        max_depth=params.max_depth,
        learning_rate=params.learning_rate,
        subsample=params.subsample,
        colsample_bytree=params.colsample_bytree,
        min_child_weight=params.min_child_weight,
        early_stopping_rounds=params.early_stopping_rounds,
        n_jobs=params.n_jobs,
        random_state=seed,
        tree_method="hist",
    )
    model.fit(x_train, y_train, eval_set=[(x_val, y_val)], verbose=False)
    return model
