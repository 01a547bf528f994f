"""One entry point to fit any probe on one task: the only place that slices rows for fitting.

Fitters receive train rows (and val rows for early stopping or choosing a classical probe's
``auto`` regularisation only); test rows never reach them. XGBoost's grid search
(``probe.xgboost.grid``) chooses on k folds of the train rows alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from emofx.embed.store import EmbeddingStore
from emofx.probes.classical import classical_val_loss, fit_classical, predict_classical
from emofx.probes.config import ProbeParams, TaskName
from emofx.probes.gbt import fit_xgb, fit_xgb_grid, predict_xgb, val_loss
from emofx.probes.mlp import MlpConfig, MlpSplit, eval_loss, fit_mlp, predict_mlp
from emofx.probes.tasks import TaskData

LayerChoice = int | Literal["weighted"]


def load_features(store: EmbeddingStore, condition: str, layer: LayerChoice) -> np.ndarray:
    """``[n, dim]`` for one layer; ``[n, n_layers, max_dim]`` (zero-padded) for ``weighted``."""
    if layer == "weighted":
        return np.array(store.load(condition), dtype=np.float32)
    return np.array(store.load(condition, layer), dtype=np.float32)


@dataclass
class FittedProbe:
    probe: str
    task: TaskName
    model: Any
    info: dict[str, float] = field(default_factory=dict)  # logged as metrics
    hyperparams: dict[str, float] = field(default_factory=dict)  # as chosen; logged as params

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Outputs ``[n, k]``: values, class probabilities or label probabilities."""
        if self.probe == "mlp":
            return predict_mlp(self.model, x)
        if self.probe == "xgboost":
            return predict_xgb(self.task, self.model, x)
        return predict_classical(self.task, self.model, x)


def fit_probe(
    probe: str,
    data: TaskData,
    x: np.ndarray,
    params: ProbeParams,
    seed: int,
    *,
    overrides: dict[str, Any] | None = None,
    callbacks: list | None = None,
    logger=None,
) -> FittedProbe:
    """Fit ``probe`` on the train rows of ``x`` (aligned with ``data``); val only for choices.

    ``overrides`` are hyperparameters (an Optuna trial's); ``callbacks`` are the probe library's
    (Lightning or XGBoost) callbacks, e.g. a pruning callback; ``logger`` a Lightning logger.
    ``data.groups`` keeps a group's rows in one fold of XGBoost's grid search (none: one row each).
    """
    tr, va = data.mask("train"), data.mask("val")
    if probe == "mlp":
        config = MlpConfig.load(params.mlp, overrides)
        x3 = x if x.ndim == 3 else x[:, None, :]
        val = MlpSplit(x3[va], data.y[va])
        model = fit_mlp(
            config,
            data.task,
            data.outputs,
            MlpSplit(x3[tr], data.y[tr]),
            val,
            seed,
            callbacks=callbacks,
            logger=logger,
        )
        info = {
            "epochs": float(model.current_epoch),
            "global_step": float(model.global_step),
            "val/loss": eval_loss(model, val),
        }
        if x3.shape[1] > 1:
            info |= {
                f"layer_weight_{i}": float(w) for i, w in enumerate(model.layer_weights().tolist())
            }
        return FittedProbe(probe, data.task, model, info)
    if x.ndim != 2:
        raise ValueError(f"probe {probe!r} takes one layer; layer_mode 'weighted' is MLP-only")
    if probe == "xgboost" and params.xgboost.grid is not None:
        groups = data.groups if data.groups is not None else np.arange(len(data.y))
        model, search = fit_xgb_grid(
            data.task,
            (x[tr], data.y[tr]),
            groups[tr],
            (x[va], data.y[va]),
            params.xgboost,
            seed,
        )
        info = {"val/loss": val_loss(model, data.task), "cv/loss": -float(search.best_score_)}
        chosen = {f"grid.{knob}": value for knob, value in search.best_params_.items()}
        return FittedProbe(probe, data.task, model, info, chosen)
    if probe == "xgboost":
        model = fit_xgb(
            data.task,
            x[tr],
            data.y[tr],
            x[va],
            data.y[va],
            params.xgboost,
            seed,
            callbacks=callbacks,
            **(overrides or {}),
        )
        info = {
            "best_iteration": float(model.best_iteration),
            "val/loss": val_loss(model, data.task),
        }
        return FittedProbe(probe, data.task, model, info)
    classical = params.classical.model_copy(update=overrides or {})
    model, chosen = fit_classical(
        probe, data.task, (x[tr], data.y[tr]), (x[va], data.y[va]), classical, seed
    )
    fitted = FittedProbe(probe, data.task, model, hyperparams=chosen)
    fitted.info["val/loss"] = classical_val_loss(data.task, data.y[va], fitted.predict(x[va]))
    return fitted
