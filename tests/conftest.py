"""Shared fixtures: the real data beside the repo (../shared), skipped with a reason when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test saying what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data not available: {path} (expected ../shared beside the repo)")
    return path


MLFLOW_PROCESS_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")


@pytest.fixture(autouse=True)
def _isolated_mlflow_globals(monkeypatch, tmp_path_factory):
    """Each test starts with MLflow's process state as it found it. Code under test calls
    ``mlflow.set_tracking_uri`` / ``set_experiment``, which set module globals *and* write
    ``MLFLOW_TRACKING_URI`` / ``MLFLOW_EXPERIMENT_ID`` into os.environ; left behind they send
    later tests to a stopped test server or to an experiment id of another store."""
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service import utils

    saved = {name: os.environ.get(name) for name in MLFLOW_PROCESS_ENV}
    if saved["MLFLOW_TRACKING_URI"] is None:  # MLflow's default is ./mlflow.db: never the repo
        store = tmp_path_factory.mktemp("mlflow-default") / "mlflow.db"
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}"
    monkeypatch.setattr(utils, "_tracking_uri", utils._tracking_uri)
    monkeypatch.setattr(fluent, "_active_experiment_id", fluent._active_experiment_id)
    yield
    import mlflow

    while mlflow.active_run() is not None:
        mlflow.end_run()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture()
def mlflow_uri(tmp_path, monkeypatch) -> str:
    """A fresh sqlite MLflow store for one test (MLFLOW_TRACKING_URI wins over params)."""
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri
