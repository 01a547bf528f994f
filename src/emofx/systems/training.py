"""Fitting and applying the Phase-2 networks from their LightningCLI configs.

``lightning_configs/train.<name>.yaml`` holds ``model`` (class_path + init_args), ``trainer``
(Trainer kwargs, callbacks as class_path/init_args) and ``data`` (batch_size). Training uses the
clean train chunks, early-stops on per-song val loss and keeps the best-val weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.cli import instantiate_class
from lightning.pytorch.loggers import Logger
from torch.utils.data import DataLoader

from emofx.lightning_config import read_lightning_config
from emofx.lightning_fit import fit_keeping_best
from emofx.probes.mlp import per_group_mean
from emofx.systems.chunks import ChunkSet
from emofx.systems.config import SpectrogramParams
from emofx.systems.spectrogram import SpectrogramNet


@dataclass(frozen=True)
class TrainConfig:
    source: Path
    model: dict[str, Any]
    trainer: dict[str, Any]
    batch_size: int

    @classmethod
    def load(cls, path: Path, params: SpectrogramParams) -> TrainConfig:
        """Read and check one config; params.yaml overrides win over the file."""
        config = read_lightning_config(path, {"batch_size": 32}, "systems.spectrogram")
        trainer = dict(config.trainer)
        if params.max_epochs is not None:
            trainer["max_epochs"] = params.max_epochs
        if params.limit_train_batches is not None:
            trainer["limit_train_batches"] = params.limit_train_batches
        batch = params.batch_size or int(config.data["batch_size"])
        return cls(config.source, config.model, trainer, batch)

    def build(self, n_outputs: int, output_names: list[str]) -> SpectrogramNet:
        init = {**(self.model.get("init_args") or {}), "n_outputs": n_outputs}
        init["output_names"] = output_names
        try:
            model = instantiate_class((), {**self.model, "init_args": init})
        except (TypeError, ValueError, ImportError, AttributeError) as exc:
            raise ValueError(f"{self.source}: model: {exc}") from None
        if not isinstance(model, SpectrogramNet):
            raise ValueError(f"{self.source}: model.class_path must name a SpectrogramNet")
        return model


def fit_network(
    config: TrainConfig,
    output_names: list[str],
    train: ChunkSet,
    y_train: np.ndarray,
    val: ChunkSet,
    y_val: np.ndarray,
    seed: int,
    *,
    logger: Logger | None = None,
) -> SpectrogramNet:
    """Train on train chunks (targets per track ``[n_tracks, k]``), keep the best-val weights."""
    L.seed_everything(seed, workers=True, verbose=False)
    model = config.build(y_train.shape[1], output_names)
    model.fit_scaling(train.images)
    loaders = (
        DataLoader(
            train.dataset(y_train),
            batch_size=config.batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        ),
        DataLoader(val.dataset(y_val), batch_size=256),
    )
    return fit_keeping_best(model, *loaders, config.trainer, logger=logger)


@torch.inference_mode()
def predict_songs(model: SpectrogramNet, chunks: ChunkSet, batch_size: int = 256) -> np.ndarray:
    """Per-track predictions ``[n_tracks, k]``: the mean of the track's chunk outputs."""
    model.eval()
    outputs = torch.cat([model(b) for b in torch.split(chunks.images, batch_size)])
    song, _ = per_group_mean(outputs, chunks.group)
    return song.double().numpy()
