"""The seed report's classical suite: Ridge, Lasso, SVR, RandomForest, GradientBoosting.

Each is a scikit-learn pipeline ``StandardScaler → estimator`` fitted on train rows only. Regression
and label proportions use the regressors (label outputs clipped to [0, 1]); the quadrant task uses
each model's classifier counterpart (L2 / L1 logistic regression, calibrated SVC, forest,
boosting). A regularisation knob set to ``auto`` (the default) is chosen on val from a log grid by
``GridSearchCV`` with a predefined train → val split (scored like tuning: val MSE, log loss for
quadrants); the returned model is then fitted on train rows only.
"""

from __future__ import annotations

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.metrics import log_loss, mean_squared_error
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from emofx.probes.config import ClassicalParams, TaskName

CLASSICAL = ("ridge", "lasso", "svr", "random_forest", "gradient_boosting")
#: each probe's one knob in ``ClassicalParams``
KNOBS = {
    "ridge": "ridge_alpha",
    "lasso": "lasso_alpha",
    "svr": "svr_c",
    "random_forest": "random_forest_trees",
    "gradient_boosting": "gradient_boosting_trees",
}
#: the candidates of a knob set to ``auto``
AUTO_GRIDS: dict[str, np.ndarray] = {
    "ridge_alpha": np.logspace(-3, 4, 15),
    "lasso_alpha": np.logspace(-4, 0, 9),
    "svr_c": np.logspace(-2, 2, 9),
}


def classical_estimator(probe: str, task: TaskName, params: ClassicalParams, seed: int):
    p = params
    if task == "quadrant":
        return {
            "ridge": lambda: LogisticRegression(C=1 / p.ridge_alpha, max_iter=2000),
            "lasso": lambda: LogisticRegression(
                C=1 / p.lasso_alpha, l1_ratio=1.0, solver="saga", max_iter=5000, random_state=seed
            ),
            "svr": lambda: CalibratedClassifierCV(SVC(C=p.svr_c), ensemble=False),
            "random_forest": lambda: RandomForestClassifier(
                p.random_forest_trees, n_jobs=p.n_jobs, random_state=seed
            ),
            "gradient_boosting": lambda: GradientBoostingClassifier(
                n_estimators=p.gradient_boosting_trees, random_state=seed
            ),
        }[probe]()
    return {
        "ridge": lambda: Ridge(alpha=p.ridge_alpha),
        "lasso": lambda: Lasso(alpha=p.lasso_alpha, max_iter=10_000, random_state=seed),
        "svr": lambda: MultiOutputRegressor(SVR(C=p.svr_c)),
        "random_forest": lambda: RandomForestRegressor(
            p.random_forest_trees, n_jobs=p.n_jobs, random_state=seed
        ),
        "gradient_boosting": lambda: MultiOutputRegressor(
            GradientBoostingRegressor(n_estimators=p.gradient_boosting_trees, random_state=seed)
        ),
    }[probe]()


def fit_classical(
    probe: str,
    task: TaskName,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    params: ClassicalParams,
    seed: int,
) -> tuple[Pipeline, dict[str, float]]:
    """Fit on ``train`` (x, y); ``val`` only chooses an ``auto`` knob. Returns the knob's value."""
    if probe not in CLASSICAL:
        raise ValueError(f"unknown classical probe {probe!r} (known: {CLASSICAL})")
    knob = KNOBS[probe]
    value = getattr(params, knob)
    if value == "auto":
        value = choose_on_val(probe, task, train, val, params, seed)
    chosen = params.model_copy(update={knob: value})
    model = make_pipeline(StandardScaler(), classical_estimator(probe, task, chosen, seed))
    model.fit(*train)
    if probe == "random_forest":  # threaded predict sums trees in completion order: last-bit noise
        model[-1].set_params(n_jobs=1)
    return model, {knob: value}


def choose_on_val(
    probe: str,
    task: TaskName,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    params: ClassicalParams,
    seed: int,
) -> float:
    """The grid value of ``probe``'s knob with the lowest val loss (each candidate fit on train)."""
    knob = KNOBS[probe]
    grid = [float(v) for v in AUTO_GRIDS[knob]]
    candidates = [
        classical_estimator(probe, task, params.model_copy(update={knob: v}), seed) for v in grid
    ]
    search = GridSearchCV(
        Pipeline([("scale", StandardScaler()), ("model", candidates[0])]),
        {"model": candidates},
        scoring=lambda model, x, y: -classical_val_loss(task, y, predict_classical(task, model, x)),
        cv=PredefinedSplit(np.r_[np.full(len(train[0]), -1), np.zeros(len(val[0]), dtype=int)]),
        refit=False,
        error_score="raise",
    )
    search.fit(np.concatenate([train[0], val[0]]), np.concatenate([train[1], val[1]]))
    return grid[search.best_index_]


def predict_classical(task: TaskName, model: Pipeline, x: np.ndarray) -> np.ndarray:
    if task == "quadrant":
        return model.predict_proba(x).astype(np.float64)
    pred = np.asarray(model.predict(x), dtype=np.float64).reshape(len(x), -1)
    return np.clip(pred, 0.0, 1.0) if task == "labels" else pred


def classical_val_loss(task: TaskName, y_val: np.ndarray, pred: np.ndarray) -> float:
    """What tuning minimises for a classical probe: log loss (quadrant), else mean squared error."""
    if task == "quadrant":
        return float(
            log_loss(y_val, pred / pred.sum(1, keepdims=True), labels=range(pred.shape[1]))
        )
    return float(mean_squared_error(y_val, pred))
