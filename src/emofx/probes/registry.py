"""Model logging and the registry: ``emofx-<dataset>-<encoder>-<probe>[-<task>]``, alias champion.

Models are logged in their native flavour (PyTorch for the MLP, XGBoost's own format, sklearn
pipelines) with an input example and explicit pip requirements: MLflow's requirement inference
costs ~10 s per call. Each version carries what its val score means (metric, split, task, targets,
data digest) as tags. The ``champion`` alias compares scores only like with like: a new version
replaces a champion fitted on other data or for another metric, split, task or targets, and
otherwise only when its score is strictly higher. The version the alias moves to records why
(``emofx.champion_reason``).

Inside :func:`deferred_champion_moves` (the probe stage) the moves wait until the stage's outputs
are complete: a stage killed or failed half-way leaves every champion where it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version

import mlflow
import numpy as np
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from emofx.probes.config import TaskName

CHAMPION = "champion"
SCORE_TAG = "emofx.val_score"
REASON_TAG = "emofx.champion_reason"


@dataclass(frozen=True)
class Selection:
    """A version's selection score and what it was computed on."""

    metric: str  # e.g. ``val/r2_mean``
    score: float
    split: str
    task: str
    targets: tuple[str, ...]
    data_digest: str  # the run's dataset input digest (DVC hash of the embedding store)

    def tags(self) -> dict[str, str]:
        return {SCORE_TAG: repr(self.score)} | {
            f"emofx.{key}": value for key, value in self.keys().items()
        }

    def keys(self) -> dict[str, str]:
        """What must be equal for two scores to be compared (data first), as tag suffixes."""
        return {
            "data_digest": self.data_digest,
            "task": self.task,
            "targets": ",".join(self.targets),
            "split": self.split,
            "val_metric": self.metric,
        }


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


@dataclass(frozen=True)
class ChampionMove:
    """``champion`` of ``name`` to ``version``, for ``reason``."""

    name: str
    version: str
    reason: str
    tags: dict[str, str]  # the version's selection tags (what a later version compares with)

    def apply(self, client: MlflowClient) -> None:
        client.set_registered_model_alias(self.name, CHAMPION, self.version)
        client.set_model_version_tag(self.name, self.version, REASON_TAG, self.reason)


_deferred: list[dict[str, ChampionMove]] = []  # innermost last


@contextmanager
def deferred_champion_moves() -> Iterator[dict[str, ChampionMove]]:
    """Collect the alias moves of :func:`register` calls inside; apply them when the block (or
    the decorated function) ends without an error, drop them when it raises."""
    pending: dict[str, ChampionMove] = {}
    _deferred.append(pending)
    try:
        yield pending
    finally:
        _deferred.pop()
    client = MlflowClient()
    for move in pending.values():
        move.apply(client)


def register(model_uri: str, name: str, selection: Selection) -> tuple[ModelVersion, str | None]:
    """Register a version; move ``champion`` to it when it should replace the champion (at the
    end of the enclosing :func:`deferred_champion_moves`, if any).

    Returns the version and the reason the alias moves (``None``: the champion stays).
    """
    client = MlflowClient()
    registered = mlflow.register_model(model_uri, name)
    for key, value in selection.tags().items():
        client.set_model_version_tag(name, registered.version, key, value)
    pending = _deferred[-1] if _deferred else None
    if pending is not None and name in pending:
        champion_tags: dict[str, str] | None = pending[name].tags
    else:
        try:
            champion_tags = client.get_model_version_by_alias(name, CHAMPION).tags
        except MlflowException:  # no champion yet
            champion_tags = None
    reason = champion_reason(selection, champion_tags)
    if reason is not None:
        move = ChampionMove(name, registered.version, reason, selection.tags())
        if pending is None:
            move.apply(client)
        else:
            pending[name] = move
    return registered, reason


def champion_reason(new: Selection, champion_tags: dict[str, str] | None) -> str | None:
    """Why ``new`` replaces the champion (its version tags), or ``None`` if it does not."""
    if not np.isfinite(new.score):
        return None
    if champion_tags is None:
        return "first"
    for key, value in new.keys().items():
        old = champion_tags.get(f"emofx.{key}", "unknown")
        if old != value:
            what = "data" if key == "data_digest" else key
            return f"{what} changed {old}→{value}"
    best = float(champion_tags.get(SCORE_TAG, "-inf"))
    if new.score > best:
        return f"better {new.metric} {new.score:.4g} > {best:.4g}"
    return None
