"""Model logging and the registry: ``emofx-<dataset>-<encoder>-<probe>[-<task>]``, alias champion.

Models are logged in their native flavour (PyTorch for the MLP, XGBoost's own format, sklearn
pipelines) with an input example and explicit pip requirements: MLflow's requirement inference
costs ~10 s per call. The ``champion`` alias moves to a new version only when its val selection
score beats the current champion's (kept as a version tag).
"""

from __future__ import annotations

from importlib.metadata import version

import mlflow
import numpy as np
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from emofx.probes.config import TaskName

CHAMPION = "champion"
SCORE_TAG = "emofx.val_score"
METRIC_TAG = "emofx.val_metric"


def registered_name(dataset: str, encoder: str, probe: str, task: TaskName) -> str:
    """The regression task keeps the plain name; other tasks add their name."""
    suffix = "" if task == "regression" else f"-{task}"
    return f"emofx-{dataset}-{encoder}-{probe}{suffix}"


def pins(*packages: str) -> list[str]:
    return [f"{p}=={version(p)}" for p in packages]


def log_model(probe: str, model, input_example: np.ndarray) -> str:
    """Log ``model`` to the active run under ``model``; returns its model URI."""
    kwargs = {"name": "model", "input_example": input_example}
    if probe == "mlp":
        import mlflow.pytorch

        info = mlflow.pytorch.log_model(
            model, pip_requirements=pins("torch", "lightning", "numpy"), **kwargs
        )
    elif probe == "xgboost":
        import mlflow.xgboost

        info = mlflow.xgboost.log_model(
            model, pip_requirements=pins("xgboost-cpu", "scikit-learn", "numpy"), **kwargs
        )
    else:
        import mlflow.sklearn

        info = mlflow.sklearn.log_model(
            model, pip_requirements=pins("scikit-learn", "numpy"), **kwargs
        )
    return info.model_uri


def register(model_uri: str, name: str, val_score: float, metric: str) -> tuple[ModelVersion, bool]:
    """Register a version; move ``champion`` to it if its val score beats the champion's."""
    client = MlflowClient()
    registered = mlflow.register_model(model_uri, name)
    client.set_model_version_tag(name, registered.version, SCORE_TAG, repr(val_score))
    client.set_model_version_tag(name, registered.version, METRIC_TAG, metric)
    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
        best = float(champion.tags.get(SCORE_TAG, "-inf"))
    except MlflowException:  # no champion yet
        best = float("-inf")
    promote = bool(np.isfinite(val_score)) and val_score > best
    if promote:
        client.set_registered_model_alias(name, CHAMPION, registered.version)
    return registered, promote
