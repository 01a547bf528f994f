"""Fitting a LightningModule from a LightningCLI ``trainer:`` spec, keeping its best-val weights.

The MLP probe and the spectrogram networks train the same way: CPU defaults, callbacks built
from ``class_path`` specs, a ``ModelCheckpoint`` on ``val/loss`` in a temporary folder, and the
best checkpoint reloaded after ``fit`` (early stopping otherwise leaves the last weights).
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.cli import instantiate_class
from lightning.pytorch.loggers import Logger
from torch.utils.data import DataLoader

TRAINER_DEFAULTS = {
    "accelerator": "cpu",
    "deterministic": True,
    "enable_progress_bar": False,
    "enable_model_summary": False,
}


def spec_callbacks(trainer: Mapping[str, Any]) -> list[Callback]:
    """The callbacks a ``trainer:`` spec lists as ``{class_path, init_args}``."""
    return [instantiate_class((), spec) for spec in trainer.get("callbacks") or []]


def fit_keeping_best(
    model: L.LightningModule,
    train: DataLoader,
    val: DataLoader,
    trainer: Mapping[str, Any],
    *,
    logger: Logger | None = None,
    callbacks: Sequence[Callback] = (),
) -> L.LightningModule:
    """Fit ``model``, reload the weights of its lowest-``val/loss`` epoch, return it for eval."""
    kwargs = {k: v for k, v in trainer.items() if k != "callbacks"}
    with tempfile.TemporaryDirectory(prefix="emofx-fit-") as tmp:
        best = ModelCheckpoint(dirpath=tmp, monitor="val/loss", mode="min", save_weights_only=True)
        fitter = L.Trainer(
            **{**TRAINER_DEFAULTS, **kwargs},
            default_root_dir=tmp,
            logger=logger if logger is not None else False,
            callbacks=[*spec_callbacks(trainer), best, *callbacks],
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
            fitter.fit(model, train, val)
        state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["state_dict"])
    return model.eval()
