"""Probe metrics with the house naming ``<split>/<metric>_<target>`` (e.g. ``test/r2_arousal``)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score


def short_target(target: str) -> str:
    return target.removesuffix("_norm")


def regression_metrics(
    split: str, targets: list[str], y_true: np.ndarray, y_pred: np.ndarray
) -> dict[str, float]:
    """R², RMSE, MAE per target column of ``[n, n_targets]`` arrays."""
    out = {}
    for j, target in enumerate(targets):
        t, p = y_true[:, j], y_pred[:, j]
        name = short_target(target)
        out[f"{split}/r2_{name}"] = float(r2_score(t, p))
        out[f"{split}/rmse_{name}"] = float(np.sqrt(mean_squared_error(t, p)))
        out[f"{split}/mae_{name}"] = float(mean_absolute_error(t, p))
    return out
