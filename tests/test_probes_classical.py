"""Classical probes: ``auto`` regularisation is chosen on val, fitted on train, blind to test."""

from __future__ import annotations

import numpy as np
import pytest

from emofx.probes.classical import AUTO_GRIDS, KNOBS
from emofx.probes.config import ProbeParams
from emofx.probes.fit import fit_probe
from emofx.probes.metrics import score_split
from emofx.probes.tasks import TaskData

SPLIT = np.array(["train"] * 60 + ["val"] * 40 + ["test"] * 40)


def overfit_task(seed: int = 0) -> tuple[TaskData, np.ndarray]:
    """Embedding-like rows (5 latent factors over 100 dims), 60 train rows, noisy targets."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(len(SPLIT), 5))
    x = latent @ rng.normal(size=(5, 100)) + 0.5 * rng.normal(size=(len(SPLIT), 100))
    y = latent[:, :2] + rng.normal(size=(len(SPLIT), 2))
    data = TaskData("regression", ["valence_norm", "arousal_norm"], np.arange(len(x)), y, SPLIT)
    return data, x


def r2(fitted, data: TaskData, x: np.ndarray, split: str) -> float:
    return score_split(data, split, fitted.predict(x[data.mask(split)]))[f"{split}/r2_mean"]


def test_auto_ridge_alpha_beats_the_overfitting_fixed_alpha():
    data, x = overfit_task()
    fixed = fit_probe("ridge", data, x, ProbeParams(classical={"ridge_alpha": 1.0}), seed=0)
    auto = fit_probe("ridge", data, x, ProbeParams(), seed=0)
    assert fixed.hyperparams == {"ridge_alpha": 1.0}
    assert r2(fixed, data, x, "train") > 0.9 and r2(fixed, data, x, "val") < 0.3  # overfits
    assert auto.hyperparams["ridge_alpha"] >= 10
    assert auto.hyperparams["ridge_alpha"] in AUTO_GRIDS["ridge_alpha"]
    assert r2(auto, data, x, "val") > r2(fixed, data, x, "val") + 0.2
    assert r2(auto, data, x, "test") > r2(fixed, data, x, "test") + 0.2


@pytest.mark.parametrize("probe", ["ridge", "lasso", "svr"])
def test_auto_choice_never_depends_on_test_rows(probe):
    """Test targets permuted and test features poisoned: same value chosen, same predictions."""
    data, x = overfit_task()
    test = data.mask("test")
    auto = fit_probe(probe, data, x, ProbeParams(), seed=0)
    x2, y2 = x.copy(), data.y.copy()
    y2[test] = np.random.default_rng(1).permutation(y2[test])
    x2[test] = 1e3
    other = fit_probe(probe, TaskData(data.task, data.outputs, data.rows, y2, data.split), x2,
                      ProbeParams(), seed=0)  # fmt: skip
    assert other.hyperparams == auto.hyperparams
    np.testing.assert_array_equal(auto.predict(x), other.predict(x))


@pytest.mark.parametrize(("probe", "default"), [("ridge", 1.0), ("lasso", 0.01), ("svr", 1.0)])
def test_auto_is_at_least_as_good_on_val_as_the_old_fixed_default(probe, default):
    data, x = overfit_task()
    knob = KNOBS[probe]
    fixed = fit_probe(probe, data, x, ProbeParams(classical={knob: default}), seed=0)
    auto = fit_probe(probe, data, x, ProbeParams(), seed=0)
    assert default in AUTO_GRIDS[knob]  # the old default is a candidate
    assert auto.info["val/loss"] <= fixed.info["val/loss"]
    grid_losses = [
        fit_probe(probe, data, x, ProbeParams(classical={knob: float(v)}), seed=0).info["val/loss"]
        for v in AUTO_GRIDS[knob]
    ]
    assert auto.info["val/loss"] == pytest.approx(min(grid_losses))
