"""XGBoost probes: fitted on train, early-stopped on val (trees need no input scaling).

- regression: one multi-output regressor (one tree per target per round, squared error);
- quadrant: a 4-class softprob classifier;
- labels: a multi-output logistic regressor (``reg:logistic`` accepts proportions in [0, 1]).

With ``probe.xgboost.grid`` the hyperparameters are instead chosen by a k-fold ``GridSearchCV``
on the train rows (folds group-disjoint; stratified by quadrant for the classifier) and the model
is refitted on train with them, without early stopping: val only records a loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedGroupKFold
from xgboost import XGBClassifier, XGBModel, XGBRegressor

from emofx.probes.config import TaskName, XGBoostParams

# The val metric early stopping (and Optuna pruning) watches, per task.
EVAL_METRIC: dict[str, str] = {
    "regression": "rmse",
    "dynamic": "rmse",
    "quadrant": "mlogloss",
    "labels": "logloss",
}
#: the loss the grid search minimises (sklearn scorer, negated), per task
GRID_SCORING: dict[str, str] = {
    "regression": "neg_root_mean_squared_error",
    "dynamic": "neg_root_mean_squared_error",
    "quadrant": "neg_log_loss",
    "labels": "neg_mean_squared_error",
}


def xgb_model(task: TaskName, params: XGBoostParams, seed: int, **overrides: Any) -> XGBModel:
    kwargs = params.model_kwargs() | overrides
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


def grid_folds(
    task: TaskName, y: np.ndarray, groups: np.ndarray, n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded ``n_folds`` (train, test) index pairs; no group is split across a pair.

    Quadrants: ``StratifiedGroupKFold`` (class shares kept per fold); else ``GroupKFold``.
    """
    if task == "quadrant":
        splitter = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
    else:
        splitter = GroupKFold(n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros((len(y), 1)), y, groups))


def grid_search_xgb(
    task: TaskName,
    x_train: np.ndarray,
    y_train: np.ndarray,
    groups: np.ndarray,
    params: XGBoostParams,
    seed: int,
) -> GridSearchCV:
    """``GridSearchCV`` over ``params.grid`` on the train rows (no refit, no early stopping)."""
    if params.grid is None:
        raise ValueError("probe.xgboost.grid is null: nothing to search")
    search = GridSearchCV(
        xgb_model(task, params, seed, early_stopping_rounds=None),
        params.grid,
        scoring=GRID_SCORING[task],
        cv=grid_folds(task, y_train, groups, params.cv_folds, seed),
        refit=False,
        error_score="raise",
    )
    return search.fit(x_train, y_train)


def fit_xgb_grid(
    task: TaskName,
    train: tuple[np.ndarray, np.ndarray],
    groups: np.ndarray,
    val: tuple[np.ndarray, np.ndarray],
    params: XGBoostParams,
    seed: int,
) -> tuple[XGBModel, GridSearchCV]:
    """Choose ``params.grid``'s knobs by grid search on ``train`` (x, y), refit on ``train``.

    ``groups`` labels the train rows (a group stays in one fold). ``val`` is only evaluated while
    boosting (its loss is recorded for the fit run); it never changes the model.
    """
    search = grid_search_xgb(task, *train, groups, params, seed)
    model = xgb_model(task, params, seed, early_stopping_rounds=None, **search.best_params_)
    model.fit(*train, eval_set=[val], verbose=False)
    return model, search


def predict_xgb(task: TaskName, model: XGBModel, x: np.ndarray) -> np.ndarray:
    """Outputs ``[n, k]``: values (regression), class probabilities, or label probabilities."""
    if task == "quadrant":
        return model.predict_proba(x).astype(np.float64)
    return np.asarray(model.predict(x), dtype=np.float64).reshape(len(x), -1)


def val_loss(model: XGBModel, task: TaskName) -> float:
    """Val value of the early-stopping metric: at the best round, or the last without stopping."""
    history = model.evals_result()["validation_0"][EVAL_METRIC[task]]
    stopped = model.get_params()["early_stopping_rounds"] is not None
    return float(history[model.best_iteration if stopped else -1])
