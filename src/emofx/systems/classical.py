"""Phase 1's model grid: Ridge, Lasso, SVR, RandomForest, GradientBoosting, XGBoost.

Each model is a pipeline ``StandardScaler → (PCA) → estimator`` for one target, its
hyperparameters chosen by a seeded k-fold grid search on the train rows only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Lasso, Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR
from xgboost import XGBRegressor


def estimator(model: str, seed: int):
    """An unfitted single-target regressor (one thread each: the data are small)."""
    factories = {
        "ridge": lambda: Ridge(),
        "lasso": lambda: Lasso(max_iter=20_000, random_state=seed),
        "svr": lambda: SVR(),
        "random_forest": lambda: RandomForestRegressor(random_state=seed, n_jobs=1),
        "gradient_boosting": lambda: GradientBoostingRegressor(random_state=seed),
        "xgboost": lambda: XGBRegressor(random_state=seed, n_jobs=1, tree_method="hist"),
    }
    if model not in factories:
        raise ValueError(f"unknown phase-1 model {model!r} (known: {sorted(factories)})")
    return factories[model]()


def model_pipeline(model: str, seed: int, pca: float | int | None = None) -> Pipeline:
    steps = [("scale", StandardScaler())]
    if pca is not None:
        steps.append(("pca", PCA(n_components=pca, random_state=seed)))
    return Pipeline([*steps, ("model", estimator(model, seed))])


def fit_grid(
    model: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    grid: dict[str, list[Any]],
    *,
    folds: int,
    seed: int,
    pca: float | int | None = None,
    n_jobs: int = 1,
) -> GridSearchCV:
    """Grid search (R² scoring, shuffled seeded folds) on train; refitted on all train rows."""
    pipeline = model_pipeline(model, seed, pca)
    known = set(pipeline.named_steps["model"].get_params())
    unknown = sorted(set(grid) - known)
    if unknown:
        raise ValueError(f"systems.phase1.grids.{model}: unknown hyperparameter(s) {unknown}")
    search = GridSearchCV(
        pipeline,
        {f"model__{k}": list(v) for k, v in grid.items()},
        scoring="r2",
        cv=KFold(folds, shuffle=True, random_state=seed),
        n_jobs=n_jobs,
        error_score="raise",
    )
    return search.fit(x_train, y_train)
