"""Every probe on every task, the leakage guard, determinism and the MLP's specifics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emofx.embed.store import EmbeddingStore
from emofx.probes.config import ProbeParams
from emofx.probes.fit import fit_probe, load_features
from emofx.probes.metrics import score_split
from emofx.probes.mlp import MlpConfig, MlpSplit, fit_mlp, per_group_mean, predict_mlp
from emofx.probes.tasks import build_task
from tests.probe_data import write_store

TARGETS = ["valence_norm", "arousal_norm"]
FAST = {"xgboost": {"n_estimators": 40, "n_jobs": 1}, "mlp": {"max_epochs": 40}}
PROBES = ["mlp", "xgboost", "ridge", "lasso", "svr", "random_forest", "gradient_boosting"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root, manifest = write_store(tmp_path_factory.mktemp("store"))
    store = EmbeddingStore(root)
    tasks = {
        t: build_task(t, store.index(), manifest, TARGETS)
        for t in ("regression", "quadrant", "labels")
    }
    return store, tasks


def params(**extra) -> ProbeParams:
    return ProbeParams.model_validate(
        {**FAST, "classical": {"random_forest_trees": 30, "gradient_boosting_trees": 30}, **extra}
    )


@pytest.mark.parametrize("probe", PROBES)
def test_every_probe_learns_every_task(tiny, probe):
    store, tasks = tiny
    x = load_features(store, "clean", 1)  # the informative layer
    floors = {"regression": ("test/r2_mean", 0.5), "quadrant": ("test/accuracy_quadrant", 0.45),
              "labels": ("test/r2_mean_labels", 0.3)}  # fmt: skip
    for task, data in tasks.items():
        fitted = fit_probe(probe, data, x[data.rows], params(), seed=0)
        pred = fitted.predict(x[data.rows][data.mask("test")])
        assert pred.shape == (data.mask("test").sum(), data.n_outputs)
        if task == "quadrant":
            np.testing.assert_allclose(pred.sum(1), 1.0, atol=1e-5)
        if task == "labels":
            assert pred.min() >= 0.0 and pred.max() <= 1.0
        metric, floor = floors[task]
        assert score_split(data, "test", pred)[metric] > floor, (probe, task)


def poisoned(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copies with the masked rows' features and targets replaced by wild values."""
    x2, y2 = x.copy(), y.copy()
    x2[mask] = 1e3 + 50 * np.random.default_rng(1).normal(size=x2[mask].shape)
    y2[mask] = (y2[mask] + 2) % 4 if y.dtype.kind == "i" else -y2[mask]
    return x2, y2


def fitted_statistics(fitted) -> list[np.ndarray]:
    """The statistics a probe fitted on its inputs (input scaling)."""
    if fitted.probe == "mlp":
        return [fitted.model.input_mean.numpy(), fitted.model.input_std.numpy()]
    if fitted.probe == "xgboost":
        return []  # trees: no input statistics; checked through the predictions below
    scaler = fitted.model[0]
    return [scaler.mean_, scaler.scale_]


@pytest.mark.parametrize("probe", ["mlp", "xgboost", "ridge", "random_forest"])
@pytest.mark.parametrize("task", ["regression", "quadrant"])
def test_no_fitted_statistic_sees_val_or_test_rows(tiny, probe, task):
    """Test rows never reach a fit; val rows only steer early stopping (and ``auto`` choices,
    tested in test_probes_classical.py), never a statistic."""
    store, tasks = tiny
    data = tasks[task]
    x = load_features(store, "clean", 1)[data.rows]
    tr = data.mask("train")
    fixed = {"ridge_alpha": 1.0, "random_forest_trees": 30}  # no `auto` choice on val
    base = fit_probe(probe, data, x, params(classical=fixed), seed=0)
    for stat in fitted_statistics(base):  # the statistics are exactly those of train rows
        assert stat.shape[-1] == x.shape[1]
    if probe != "xgboost":
        ref = x[tr].mean(0)
        stats = fitted_statistics(base)
        np.testing.assert_allclose(stats[0].reshape(-1), ref, rtol=1e-5, atol=1e-6)
    # test rows poisoned: the fitted probe must be identical
    x_t, y_t = poisoned(x, data.y, data.mask("test"))
    other = fit_probe(probe, type(data)(data.task, data.outputs, data.rows, y_t, data.split),
                      x_t, params(classical=fixed), seed=0)  # fmt: skip
    np.testing.assert_array_equal(base.predict(x[~data.mask("test")]),
                                  other.predict(x[~data.mask("test")]))  # fmt: skip
    # val rows poisoned: the input statistics must be identical
    x_v, y_v = poisoned(x, data.y, data.mask("val"))
    other = fit_probe(probe, type(data)(data.task, data.outputs, data.rows, y_v, data.split),
                      x_v, params(classical=fixed), seed=0)  # fmt: skip
    for a, b in zip(fitted_statistics(base), fitted_statistics(other), strict=True):
        np.testing.assert_array_equal(a, b)
    if probe in ("ridge", "random_forest"):  # no early stopping: val cannot matter at all
        np.testing.assert_array_equal(base.predict(x[tr]), other.predict(x[tr]))


def test_same_seed_same_mlp_and_xgboost(tiny):
    store, tasks = tiny
    data = tasks["regression"]
    x = load_features(store, "clean", 1)[data.rows]
    for probe in ("mlp", "xgboost"):
        first, again, other = (
            fit_probe(probe, data, x, params(), seed=seed).predict(x) for seed in (3, 3, 4)
        )
        np.testing.assert_array_equal(first, again)
        assert not np.array_equal(first, other)  # the seed does drive the fit


def test_weighted_layer_mix_favours_the_informative_layer(tiny):
    store, tasks = tiny
    data = tasks["regression"]
    x = load_features(store, "clean", "weighted")[data.rows]
    assert x.shape[1:] == (3, 8)
    p = params(mlp={"layer_mode": "weighted", "max_epochs": 60, "lr": 0.01})
    fitted = fit_probe("mlp", data, x, p, seed=0)
    weights = fitted.model.layer_weights().detach().numpy()
    assert weights.argmax() == 1 and weights.sum() == pytest.approx(1.0)
    assert fitted.info["layer_weight_1"] == pytest.approx(weights[1])
    with pytest.raises(ValueError, match="'weighted' is MLP-only"):
        fit_probe("xgboost", data, x, p, seed=0)


def test_chunks_are_averaged_per_song():
    logits = torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]])
    means, first = per_group_mean(logits, torch.tensor([7, 7, 2]))
    torch.testing.assert_close(means, torch.tensor([[5.0, 5.0], [2.0, 1.0]]))
    assert first.tolist() == [2, 0]


def test_mlp_trains_on_chunks_and_predicts_songs(tiny):
    """Three noisy chunks per song: song-level predictions are the mean of chunk logits."""
    store, tasks = tiny
    data = tasks["regression"]
    x = load_features(store, "clean", 1)[data.rows]
    rng = np.random.default_rng(0)
    chunks = np.repeat(x, 3, axis=0) + 0.05 * rng.normal(size=(3 * len(x), x.shape[1]))
    y, song = np.repeat(data.y, 3, axis=0), np.repeat(np.arange(len(x)), 3)
    split = np.repeat(data.split, 3)
    config = MlpConfig.load(params().mlp)
    parts = {s: MlpSplit(chunks[split == s][:, None], y[split == s], song[split == s])
             for s in ("train", "val")}  # fmt: skip
    model = fit_mlp(config, "regression", TARGETS, parts["train"], parts["val"], seed=0)
    test = split == "test"
    songs = predict_mlp(model, chunks[test][:, None], song[test])
    rows = predict_mlp(model, chunks[test][:, None])
    np.testing.assert_allclose(songs, rows.reshape(-1, 3, 2).mean(1), rtol=1e-5)
    assert score_split(data, "test", songs)["test/r2_mean"] > 0.5
