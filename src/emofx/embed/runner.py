"""Run one encoder over every (track, condition) pair with ``Trainer.predict`` into the store."""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import BasePredictionWriter, RichProgressBar
from lightning.pytorch.cli import instantiate_class
from rich.console import Console

from emofx.embed.datamodule import PairDataModule, n_shards, plan_batches, prepared_track_loader
from emofx.embed.frames import FRAME_KEYS, FrameEmbedder, FrameSpec
from emofx.embed.store import EmbeddingStore
from emofx.encoders.base import Encoder
from emofx.fx.conditions import Condition
from emofx.fx.render import unrenderable
from emofx.lightning_config import read_lightning_config
from emofx.progress import PredictProgressLog, is_terminal
from emofx.tracking import stable_hash

PAIR_KEYS = ("embedding", "track", "condition", "lufs_in", "lufs_out")
console = Console(stderr=True)
DATA_DEFAULTS = {"batch_size": 8, "shard_tracks": 32, "render_threads": 2, "num_workers": 1}


@dataclass(frozen=True)
class EncoderConfig:
    """An ``embed.<encoder>.yaml``: ``model`` (class_path, init_args), ``trainer``, ``data``."""

    model: dict[str, Any]
    trainer: dict[str, Any]
    data: dict[str, Any]

    @classmethod
    def from_yaml(cls, path: str | Path) -> EncoderConfig:
        config = read_lightning_config(path, DATA_DEFAULTS, "embed.encoders")
        return cls(config.model, config.trainer, config.data)

    def encoder_class(self) -> type[Encoder]:
        module, _, name = self.model["class_path"].rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        if not (isinstance(cls, type) and issubclass(cls, Encoder)):
            raise TypeError(f"{self.model['class_path']} is not an emofx Encoder")
        return cls

    def sample_rate(self) -> int:
        """The rate the built encoder will work at, read without loading any weights."""
        return self.encoder_class().config_sample_rate(self.model["init_args"])

    def build_encoder(self) -> Encoder:
        encoder = instantiate_class((), self.model)
        if not isinstance(encoder, Encoder):
            raise TypeError(f"{self.model['class_path']} is not an emofx Encoder")
        return encoder.eval()


class ShardWriter(BasePredictionWriter):
    """Collects a shard's batch outputs and writes the shard file when its last batch is done."""

    def __init__(self, store: EmbeddingStore, keys: tuple[str, ...] = PAIR_KEYS) -> None:
        super().__init__(write_interval="batch")
        self.store = store
        self.keys = keys
        self.buffer: list[dict] = []
        self.samples_embedded = 0

    def write_on_batch_end(
        self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0
    ):
        self.buffer.append({k: _numpy(v) for k, v in prediction.items()})
        self.samples_embedded += int(prediction["n_samples"].sum())
        if prediction["last_in_shard"]:
            arrays = {key: np.concatenate([b[key] for b in self.buffer]) for key in self.keys}
            self.store.write_shard(int(prediction["shard"]), arrays)
            self.buffer = []


def _numpy(value: Any) -> Any:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value


@dataclass(frozen=True)
class EmbedResult:
    store: EmbeddingStore
    skipped: bool
    n_pairs: int
    seconds: float
    audio_seconds: float  # rendered audio embedded by this call (0 when skipped)


def embed_dataset(
    config: EncoderConfig,
    manifest: pd.DataFrame,
    prepared_dir: Path,
    conditions: list[Condition],
    out_dir: Path,
    *,
    seed: int,
    data_hash: str,
    progress: bool = True,
    frames: FrameSpec | None = None,
) -> EmbedResult:
    """Embed every manifest track under every condition; skip when the inputs are unchanged.

    ``data_hash`` identifies the prepared data (manifest + audio cache); together with the
    conditions, the encoder's description (incl. checkpoint hash) and the batching it forms the
    inputs hash recorded in ``meta.json``. With ``frames`` the store holds one row per frame
    (:mod:`emofx.embed.frames`) instead of one time-pooled row per track.
    """
    started = time.perf_counter()
    encoder = config.build_encoder()
    prepared_rate = config.sample_rate()
    if encoder.sample_rate != prepared_rate:
        raise ValueError(
            f"{config.model['class_path']} works at {encoder.sample_rate} Hz but its config "
            f"announces {prepared_rate} Hz (the rate prepare decoded the audio at): "
            f"{type(encoder).__name__}.config_sample_rate must read the rate the model uses"
        )
    module: L.LightningModule = encoder if frames is None else FrameEmbedder(encoder, frames)
    store = EmbeddingStore(out_dir)
    track_ids = manifest["track_id"].astype(str).tolist()
    description = module.describe()
    inputs_hash = stable_hash(
        {
            "data": data_hash,
            "tracks": track_ids,
            "conditions": [c.content_hash for c in conditions],
            "encoder": description,
            "trainer_precision": config.trainer.get("precision"),
            "batching": {k: config.data[k] for k in ("batch_size", "shard_tracks")},
        }
    )
    n_pairs = len(track_ids) * len(conditions)
    if store.is_complete(inputs_hash):
        return EmbedResult(store, True, n_pairs, time.perf_counter() - started, 0.0)

    # find conditions that cannot render at this rate now, not after hours of extraction
    skipped = unrenderable(conditions, encoder.sample_rate)
    for cid, reason in skipped.items():
        console.print(
            f"[yellow]embed {encoder.name}: skipping condition {cid} (cannot render at "
            f"{encoder.sample_rate} Hz): {reason}[/yellow]"
        )
    conditions = [c for c in conditions if c.id not in skipped]
    L.seed_everything(seed, verbose=False)
    store.prepare_partial(inputs_hash)
    specs = plan_batches(
        len(track_ids), len(conditions), config.data["shard_tracks"], config.data["batch_size"]
    )
    datamodule = PairDataModule(
        specs,
        store.done_shards(),
        prepared_track_loader(prepared_dir, encoder.sample_rate, track_ids),
        conditions,
        encoder.sample_rate,
        render_threads=config.data["render_threads"],
        num_workers=config.data["num_workers"],
    )
    writer = ShardWriter(store, PAIR_KEYS if frames is None else FRAME_KEYS)
    callbacks: list[L.Callback] = [writer]
    bar = progress and is_terminal()
    if bar:
        callbacks.append(RichProgressBar())
    elif progress:  # a log file: a plain line every few seconds (pairs done, rate, ETA)
        done = store.done_shards()
        todo = sum(len(s.pairs) for s in specs if s.shard not in done)
        label = f"embed {encoder.name}" + (" frames" if frames is not None else "")
        callbacks.append(PredictProgressLog(label, todo, "pairs"))
    trainer = L.Trainer(
        **{"accelerator": "cpu", "devices": 1, "logger": False, **config.trainer},
        callbacks=callbacks,
        enable_progress_bar=bar,
        use_distributed_sampler=False,
        enable_model_summary=False,
    )
    trainer.predict(module, datamodule=datamodule, return_predictions=False)
    trainer.strategy.barrier()
    if trainer.is_global_zero:
        index = manifest[["track_id", "split"]].astype({"track_id": str}).reset_index(drop=True)
        meta = {
            **description,
            "inputs_hash": inputs_hash,
            "data_hash": data_hash,
            "skipped_conditions": skipped,
        }
        store.assemble(
            n_shards(len(track_ids), config.data["shard_tracks"]),
            [c.id for c in conditions],
            index,
            meta,
        )
    audio_seconds = writer.samples_embedded / encoder.sample_rate
    return EmbedResult(store, False, n_pairs, time.perf_counter() - started, audio_seconds)


def encoder_sample_rate(config: str | Path | EncoderConfig) -> int:
    """The working sample rate of an encoder config (a path or a read config), without building
    the model: the prepare stage decodes audio once per rate before any (possibly multi-GB) model
    is loaded. :meth:`Encoder.config_sample_rate` reads init args and small checkpoint configs."""
    if not isinstance(config, EncoderConfig):
        config = EncoderConfig.from_yaml(config)
    return config.sample_rate()
