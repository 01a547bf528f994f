"""The champion alias compares like with like and says why it moved (real sqlite MLflow)."""

from __future__ import annotations

import dataclasses

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from sklearn.linear_model import Ridge

from emofx.probes.registry import CHAMPION, REASON_TAG, Selection, log_model, register

NAME = "emofx-tiny-tiny-ridge"
BASE = Selection("val/r2_mean", 0.38, "val", "regression", ("valence_norm", "arousal_norm"), "d1")


@pytest.fixture()
def model_uri(mlflow_uri) -> str:
    """One logged sklearn model; every registration in a test points at it."""
    mlflow.set_experiment("registry")
    x = np.arange(8.0).reshape(4, 2)
    with mlflow.start_run():
        return log_model("ridge", Ridge().fit(x, x[:, 0]), x[:2])


def champion(client: MlflowClient) -> tuple[int, str]:
    version = client.get_model_version_by_alias(NAME, CHAMPION)
    return int(version.version), version.tags[REASON_TAG]


def test_first_better_worse_and_changed_data(model_uri, mlflow_uri):
    client = MlflowClient(mlflow_uri)
    steps = [
        (BASE, 1, "first"),
        (dataclasses.replace(BASE, score=0.41), 2, "better val/r2_mean 0.41 > 0.38"),
        (dataclasses.replace(BASE, score=0.40), 2, "better val/r2_mean 0.41 > 0.38"),  # worse
        (dataclasses.replace(BASE, score=0.41), 2, "better val/r2_mean 0.41 > 0.38"),  # tie
        # a worse score on new data still replaces a champion fitted on older data
        (dataclasses.replace(BASE, score=0.2, data_digest="d2"), 5, "data changed d1→d2"),
    ]
    for number, (selection, expected, reason) in enumerate(steps, start=1):
        version, moved = register(model_uri, NAME, selection)
        assert int(version.version) == number
        assert moved == (reason if expected == number else None)
        assert champion(client) == (expected, reason)
    version = client.get_model_version(NAME, "5")
    assert version.tags["emofx.data_digest"] == "d2" and version.tags["emofx.val_score"] == "0.2"
    assert REASON_TAG not in client.get_model_version(NAME, "3").tags


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"targets": ("valence_norm",)}, "targets changed valence_norm,arousal_norm→valence_norm"),
        ({"metric": "val/pearson_mean"}, "val_metric changed val/r2_mean→val/pearson_mean"),
        ({"split": "val_fold1"}, "split changed val→val_fold1"),
    ],
)
def test_unlike_scores_are_not_compared(model_uri, mlflow_uri, change, reason):
    """A lower score for other targets, metric or split replaces the champion: not comparable."""
    client = MlflowClient(mlflow_uri)
    register(model_uri, NAME, BASE)
    _, moved = register(model_uri, NAME, dataclasses.replace(BASE, score=0.1, **change))
    assert moved == reason and champion(client) == (2, reason)


def test_a_nan_score_never_becomes_champion(model_uri, mlflow_uri):
    client = MlflowClient(mlflow_uri)
    assert register(model_uri, NAME, dataclasses.replace(BASE, score=float("nan")))[1] is None
    register(model_uri, NAME, BASE)
    assert (
        register(model_uri, NAME, dataclasses.replace(BASE, score=np.nan, data_digest="d2"))[1]
        is None
    )
    assert champion(client) == (2, "first")


def test_a_champion_without_lineage_tags_is_replaced(model_uri, mlflow_uri):
    """Versions registered before the tags existed carry only a score: their data is unknown."""
    client = MlflowClient(mlflow_uri)
    old = mlflow.register_model(model_uri, NAME)
    client.set_model_version_tag(NAME, old.version, "emofx.val_score", "0.9")
    client.set_registered_model_alias(NAME, CHAMPION, old.version)
    _, moved = register(model_uri, NAME, BASE)
    assert moved == "data changed unknown→d1" and champion(client)[0] == 2
