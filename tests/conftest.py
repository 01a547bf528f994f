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


@pytest.fixture(autouse=True)
def _isolated_mlflow_globals(monkeypatch):
    """Each test starts with the tracking URI it found: code under test calls
    ``mlflow.set_tracking_uri`` (a process global that wins over ``MLFLOW_TRACKING_URI``), so a test
    that pointed it at a server it then stopped would send every later test to a dead address."""
    from mlflow.tracking._tracking_service import utils

    monkeypatch.setattr(utils, "_tracking_uri", utils._tracking_uri)
    yield
    import mlflow

    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture()
def mlflow_uri(tmp_path, monkeypatch) -> str:
    """A fresh sqlite MLflow store for one test (MLFLOW_TRACKING_URI wins over params)."""
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri
