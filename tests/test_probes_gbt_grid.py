"""XGBoost's k-fold grid search (``probe.xgboost.grid``, the paper preset's protocol)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient
from pydantic import ValidationError
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedGroupKFold

from emofx.embed.store import EmbeddingStore
from emofx.probes.config import ProbeParams, XGBoostParams
from emofx.probes.fit import fit_probe, load_features
from emofx.probes.gbt import GRID_SCORING, grid_search_xgb, xgb_model
from emofx.probes.run import run_probes, with_groups
from emofx.probes.tasks import build_task
from emofx.tracking import stage_run
from tests.probe_data import write_store

REPO = Path(__file__).resolve().parents[1]
TARGETS = ["valence_norm", "arousal_norm"]
GRID = {"max_depth": [1, 3], "learning_rate": [0.05, 0.3], "n_estimators": [10, 40]}
TASKS = ("regression", "quadrant", "labels")


def grouped_manifest(manifest):
    """Songs of one to three clips (``group_id``), each song within one split."""
    sizes = np.resize([1, 2, 3], len(manifest))
    song = np.repeat(np.arange(len(manifest)), sizes)[: len(manifest)]
    first = manifest["split"].groupby(song).transform("first")
    return manifest.assign(group_id=[f"song{s}" for s in song], split=first)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    _, manifest = write_store(root)
    manifest = grouped_manifest(manifest)
    store = EmbeddingStore(root / "tiny")
    index = store.index().assign(split=manifest["split"].to_numpy())
    index.to_parquet(store.root / "index.parquet")
    tasks = {
        t: with_groups(build_task(t, index, manifest, TARGETS), index, manifest) for t in TASKS
    }
    return store, manifest, tasks, load_features(store, "clean", 1)


def grid_params(**xgboost) -> ProbeParams:
    return ProbeParams.model_validate({"xgboost": {"grid": GRID, "n_jobs": 1, **xgboost}})


@pytest.mark.parametrize("task", TASKS)
def test_grid_search_picks_and_refits_what_gridsearchcv_does(tiny, task):
    _, _, tasks, x_all = tiny
    data = tasks[task]
    x, tr = x_all[data.rows], data.mask("train")
    params = grid_params()
    fitted = fit_probe("xgboost", data, x, params, seed=7)
    splitter = (StratifiedGroupKFold if task == "quadrant" else GroupKFold)(
        3, shuffle=True, random_state=7
    )
    direct = GridSearchCV(
        xgb_model(task, params.xgboost, 7, early_stopping_rounds=None),
        GRID,
        scoring=GRID_SCORING[task],
        cv=splitter,
    ).fit(x[tr], data.y[tr], groups=data.groups[tr])
    assert fitted.hyperparams == {f"grid.{k}": v for k, v in direct.best_params_.items()}
    assert fitted.info["cv/loss"] == pytest.approx(-direct.best_score_)
    test = x[data.mask("test")]
    expected = (
        direct.best_estimator_.predict_proba(test)
        if task == "quadrant"
        else direct.best_estimator_.predict(test).reshape(len(test), -1)
    )
    np.testing.assert_allclose(fitted.predict(test), expected, rtol=1e-6)
    assert fitted.model.n_estimators == direct.best_params_["n_estimators"]  # no early stopping


def test_the_grid_is_not_a_trivial_choice(tiny):
    """On this data the grid's candidates differ, so the choice above is a real one."""
    _, _, tasks, x_all = tiny
    data = tasks["regression"]
    x, tr = x_all[data.rows], data.mask("train")
    search = grid_search_xgb(
        "regression", x[tr], data.y[tr], data.groups[tr], grid_params().xgboost, 0
    )
    losses = -search.cv_results_["mean_test_score"]
    assert len(losses) == 8 and losses.max() > 1.5 * losses.min()
    assert search.best_params_["n_estimators"] == 40  # 10 rounds underfit at either rate


@pytest.mark.parametrize("task", ["regression", "quadrant"])
def test_folds_never_split_a_group(tiny, task):
    _, manifest, tasks, x_all = tiny
    data = tasks[task]
    tr = data.mask("train")
    group_of = dict(zip(manifest["track_id"], manifest["group_id"], strict=True))
    index = EmbeddingStore(tiny[0].root).index()
    assert data.groups.tolist() == [group_of[t] for t in index["track_id"].iloc[data.rows]]
    groups = data.groups[tr]
    assert len(set(groups)) < tr.sum()  # songs of several clips are in train
    search = grid_search_xgb(
        task, x_all[data.rows][tr], data.y[tr], groups, grid_params().xgboost, 0
    )
    tested = np.concatenate([test for _, test in search.cv])
    assert len(search.cv) == 3 and sorted(tested) == list(range(tr.sum()))  # each row once
    for train_rows, test_rows in search.cv:
        assert not set(groups[train_rows]) & set(groups[test_rows])


@pytest.mark.parametrize("task", ["regression", "quadrant"])
def test_val_and_test_rows_change_nothing(tiny, task):
    """Poisoned test rows (features and labels) and val labels: same choice, same model."""
    _, _, tasks, x_all = tiny
    data = tasks[task]
    x = x_all[data.rows]
    params = grid_params()
    clean = fit_probe("xgboost", data, x, params, seed=0)
    x2, y2 = x.copy(), data.y.copy()
    held = data.mask("test") | data.mask("val")
    x2[data.mask("test")] = 1e3
    y2[held] = (y2[held] + 2) % 4 if task == "quadrant" else -y2[held] * 5
    poisoned = fit_probe(
        "xgboost", type(data)(data.task, data.outputs, data.rows, y2, data.split, data.groups),
        x2, params, seed=0,
    )  # fmt: skip
    assert poisoned.hyperparams == clean.hyperparams
    assert poisoned.info["cv/loss"] == clean.info["cv/loss"]
    assert poisoned.info["val/loss"] != clean.info["val/loss"]  # val is only scored
    np.testing.assert_array_equal(poisoned.predict(x), clean.predict(x))


def test_chosen_values_reach_the_fit_runs(tmp_path, tiny, mlflow_uri):
    store, manifest, tasks, x_all = tiny
    raw = {"probes": ["xgboost"], "tasks": ["regression", "quadrant"], "layer": "mid",
           "register_models": False, "xgboost": {"grid": GRID, "n_jobs": 1}}  # fmt: skip
    params = ProbeParams.model_validate(raw)
    with stage_run("probe", "tiny", {"probe": raw}, artifact_root=str(tmp_path / "art")) as parent:
        run_probes(params, manifest, store.root.parent, ["tiny"], tmp_path / "pred", 0)
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert sorted(r.info.run_name for r in runs) == [
        "tiny/xgboost/quadrant",
        "tiny/xgboost/regression",
    ]
    for run in runs:
        data = tasks[run.data.tags["emofx.task"]]
        fitted = fit_probe("xgboost", data, x_all[data.rows], params, seed=0)
        logged = {k: v for k, v in run.data.params.items() if k.startswith("grid.")}
        assert logged == {k: str(v) for k, v in fitted.hyperparams.items()} and len(logged) == 3
        assert run.data.metrics["cv/loss"] == pytest.approx(fitted.info["cv/loss"])


def test_grid_config_is_validated():
    assert XGBoostParams(grid={"max_depth": [3.0, 5]}).grid == {"max_depth": [3, 5]}
    assert XGBoostParams().grid is None and XGBoostParams().cv_folds == 3
    for bad in ({"gamma": [0.1]}, {"max_depth": [0]}, {"learning_rate": []}, {"max_depth": [2.5]}):
        with pytest.raises(ValidationError, match="grid"):
            XGBoostParams(grid=bad)
    with pytest.raises(ValidationError, match="cv_folds"):
        XGBoostParams(cv_folds=1)
    with pytest.raises(ValidationError, match="choose one"):
        ProbeParams.model_validate({"xgboost": {"grid": GRID}, "tune": {"probes": ["xgboost"]}})


def test_the_paper_preset_grid_searches_xgboost():
    preset = yaml.safe_load((REPO / "params" / "paper.yaml").read_text())["probe"]
    xgboost = ProbeParams.model_validate(preset).xgboost
    assert xgboost.cv_folds == 3
    assert xgboost.grid == {
        "max_depth": [3, 5, 7],
        "learning_rate": [0.01, 0.1],
        "n_estimators": [100, 300],
    }
