"""Phase-1 feature selection: Pearson top-k, SHAP global importance, and their combinations.

Everything here is fitted on train rows only. SHAP importance is the mean |SHAP value| of each
feature under an XGBoost regressor (``shap.TreeExplainer``: exact for trees, fast).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import shap  # noqa: E402
from sklearn.feature_selection import r_regression  # noqa: E402
from xgboost import XGBRegressor  # noqa: E402


def pearson_scores(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|Pearson r| of every column of ``x`` with ``y`` (0 for constant columns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant column: r is undefined
        r = r_regression(x, y)
    r[np.ptp(x, axis=0) == 0] = 0.0
    return np.abs(np.nan_to_num(r, nan=0.0))


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first (ties: lower index first)."""
    return np.argsort(-scores, kind="stable")[: min(k, len(scores))]


@dataclass(frozen=True)
class ShapResult:
    importance: np.ndarray  # [n_features] mean |SHAP|
    values: np.ndarray  # [n_rows, n_features] SHAP values of the explained rows
    x: np.ndarray  # the explained rows (for the summary plot)


def shap_importance(x: np.ndarray, y: np.ndarray, n_trees: int, seed: int) -> ShapResult:
    """Fit an XGBoost regressor on (x, y) and explain it on the same rows."""
    model = XGBRegressor(
        n_estimators=n_trees,
        max_depth=3,
        learning_rate=0.05,
        subsample=0.8,
        colsample_bytree=0.8,
        random_state=seed,
        n_jobs=1,
        tree_method="hist",
    )
    model.fit(x, y)
    values = np.asarray(shap.TreeExplainer(model).shap_values(x))
    return ShapResult(np.abs(values).mean(0), values, x)


def feature_sets(pearson: np.ndarray, shap_top: np.ndarray, n_features: int) -> dict[str, list]:
    """The seed report's four sets (sorted indices): full, Pearson top-k, SHAP ∪ / ∩ Pearson."""
    p, s = set(pearson.tolist()), set(shap_top.tolist())
    return {
        "full": list(range(n_features)),
        "pearson": sorted(p),
        "shap_or_pearson": sorted(p | s),
        "shap_and_pearson": sorted(p & s),
    }


def save_shap_summary(result: ShapResult, names: list[str], title: str, path: Path) -> Path:
    """shap's beeswarm summary plot (top 20 features) as a PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shap.summary_plot(
        result.values, result.x, feature_names=names, max_display=20, show=False, plot_size=(8, 7)
    )
    plt.title(title)
    plt.tight_layout()
    plt.savefig(path, dpi=110)
    plt.close("all")
    return path
