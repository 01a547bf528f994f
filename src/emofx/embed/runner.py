"""Run one encoder over every (track, condition) pair with ``Trainer.predict`` into the store."""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, replace
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
from emofx.embed.frames import FRAME_KEYS, FRAME_PREFIX, FrameEmbedder, FrameSpec
from emofx.embed.progress import PredictProgressLog
from emofx.embed.store import DEFAULT_FORMAT, EmbeddingStore, StoreFormat
from emofx.encoders.base import Encoder
from emofx.fx.conditions import Condition
from emofx.fx.render import unrenderable
from emofx.lightning_config import read_lightning_config
from emofx.locks import exclusive_output
from emofx.progress import is_terminal
from emofx.tracking import is_rank_zero, stable_hash

PAIR_KEYS = ("embedding", "track", "condition", "lufs_in", "lufs_out", "nonlinear_share")
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
    """Collects a shard's batch outputs and writes each store's shard file when its last batch is
    done. ``outputs``: output-key prefix → (store, keys, store format, store description), e.g.
    the pooled keys and the frame keys (``frame_…``) of one pass into two stores; each batch's
    embeddings are cut to the store's layers and dtype as they arrive."""

    def __init__(
        self, outputs: dict[str, tuple[EmbeddingStore, tuple[str, ...], StoreFormat, dict]]
    ) -> None:
        super().__init__(write_interval="batch")
        self.outputs = outputs
        self.buffer: dict[str, list[dict]] = {prefix: [] for prefix in outputs}
        self.samples_embedded = 0

    def write_on_batch_end(
        self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0
    ):
        self.samples_embedded += int(prediction["n_samples"].sum())
        for prefix, (store, keys, fmt, description) in self.outputs.items():
            arrays = {k: _numpy(prediction[prefix + k]) for k in keys}
            arrays["embedding"] = fmt.apply(arrays["embedding"], description)
            self.buffer[prefix].append(arrays)
            if prediction["last_in_shard"]:
                done = self.buffer[prefix]
                joined = {k: np.concatenate([b[k] for b in done]) for k in keys}
                store.write_shard(int(prediction["shard"]), joined)
                self.buffer[prefix] = []


def _numpy(value: Any) -> Any:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value


@dataclass(frozen=True)
class EmbedResult:
    store: EmbeddingStore
    skipped: bool
    n_pairs: int
    seconds: float
    audio_seconds: float  # rendered audio embedded by this call (0 when skipped)
    frames: EmbedResult | None = None  # the frame store written by the same pass (FrameJob)


@dataclass(frozen=True)
class FrameJob:
    """A frame store written by the same renders and encoder pass as the pooled store.

    ``manifest`` (the dynamically annotated tracks) and ``conditions`` are subsets of the pooled
    run's; the pairs outside them are rendered and encoded for the pooled store only.
    """

    spec: FrameSpec
    manifest: pd.DataFrame
    conditions: list[Condition]
    out_dir: Path
    format: StoreFormat = DEFAULT_FORMAT


@dataclass(eq=False)
class _Target:
    """One store a run writes: its rows' prefix in the module output, its tracks and conditions."""

    prefix: str
    store: EmbeddingStore
    manifest: pd.DataFrame
    conditions: list[Condition]
    description: dict
    format: StoreFormat
    inputs_hash: str = ""


@exclusive_output("out_dir", "embed")
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
    with_frames: FrameJob | None = None,
    store_format: StoreFormat = DEFAULT_FORMAT,
) -> EmbedResult:
    """Embed every manifest track under every condition; skip when the inputs are unchanged.

    ``data_hash`` identifies the prepared data (manifest + audio cache); together with the
    conditions, the encoder's description (incl. checkpoint hash) and the batching it forms the
    inputs hash recorded in ``meta.json``. With ``frames`` the store holds one row per frame
    (:mod:`emofx.embed.frames`) instead of one time-pooled row per track. With ``with_frames``
    the pooled store and that frame store come from one render and one encoder pass per
    (track, condition); a store whose inputs are unchanged is skipped, so when only the frame
    store is stale only its pairs are embedded.
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
    spec = frames or (with_frames.spec if with_frames else None)
    frame_description = FrameEmbedder(encoder, spec).describe() if spec else {}
    if frames is not None:
        targets = [
            _Target(
                FRAME_PREFIX,
                EmbeddingStore(out_dir),
                manifest,
                conditions,
                store_format.describe(frame_description),
                store_format,
            )
        ]
    else:
        targets = [
            _Target(
                "",
                EmbeddingStore(out_dir),
                manifest,
                conditions,
                store_format.describe(encoder.describe()),
                store_format,
            )
        ]
        if with_frames is not None:
            job = with_frames
            targets.append(
                _Target(
                    FRAME_PREFIX,
                    EmbeddingStore(job.out_dir),
                    job.manifest,
                    job.conditions,
                    job.format.describe(frame_description),
                    job.format,
                )
            )
    for target in targets:
        target.inputs_hash = _inputs_hash(config, target, data_hash)
    stale = [t for t in targets if not t.store.is_complete(t.inputs_hash)]
    results = {
        t.prefix: EmbedResult(
            t.store,
            t not in stale,
            len(t.manifest) * len(t.conditions),
            time.perf_counter() - started,
            0.0,
        )
        for t in targets
    }
    if stale:
        seconds, audio_seconds = _run(
            config, encoder, stale, prepared_dir, spec, seed, data_hash, progress
        )
        for t in stale:
            results[t.prefix] = replace(
                results[t.prefix], seconds=seconds, audio_seconds=audio_seconds
            )
    joint = results[FRAME_PREFIX] if with_frames is not None else None
    return replace(results[targets[0].prefix], frames=joint)


def _inputs_hash(config: EncoderConfig, target: _Target, data_hash: str) -> str:
    return stable_hash(
        {
            "data": data_hash,
            "tracks": target.manifest["track_id"].astype(str).tolist(),
            "conditions": [c.content_hash for c in target.conditions],
            "encoder": target.description,
            "trainer_precision": config.trainer.get("precision"),
            "batching": {k: config.data[k] for k in ("batch_size", "shard_tracks")},
        }
    )


def _run(
    config: EncoderConfig,
    encoder: Encoder,
    targets: list[_Target],
    prepared_dir: Path,
    spec: FrameSpec | None,
    seed: int,
    data_hash: str,
    progress: bool,
) -> tuple[float, float]:
    """Render and encode the pairs of ``targets[0]`` once, writing every target's rows.

    Returns (seconds, audio seconds embedded). The first target drives the pairs (the pooled
    store, or the frame store alone); a second (frame) target takes the rows of its pairs.
    """
    started = time.perf_counter()
    lead = targets[0]
    # find conditions that cannot render at this rate now, not after hours of extraction
    skipped = unrenderable(lead.conditions, encoder.sample_rate)
    for cid, reason in skipped.items():
        console.print(
            f"[yellow]embed {encoder.name}: skipping condition {cid} (cannot render at "
            f"{encoder.sample_rate} Hz): {reason}[/yellow]"
        )
    for target in targets:
        target.conditions = [c for c in target.conditions if c.id not in skipped]
    track_ids = lead.manifest["track_id"].astype(str).tolist()
    module: L.LightningModule = encoder
    if lead.prefix:  # the frame store alone
        module = FrameEmbedder(encoder, spec)
    elif len(targets) > 1:
        rows = {tid: i for i, tid in enumerate(targets[1].manifest["track_id"].astype(str))}
        cols = {c.id: i for i, c in enumerate(targets[1].conditions)}
        module = FrameEmbedder(
            encoder,
            spec,
            pooled=True,
            frame_tracks={t: rows[tid] for t, tid in enumerate(track_ids) if tid in rows},
            frame_conditions={c: cols[x.id] for c, x in enumerate(lead.conditions) if x.id in cols},
        )
    L.seed_everything(seed, verbose=False)
    for target in targets:  # a frame store's shards follow the lead's tracks: mark whose
        joint = "/joint" if target is not lead else ""
        prepare_partial(target.store, target.inputs_hash + joint)
    done = set.intersection(*(t.store.done_shards() for t in targets))
    specs = plan_batches(
        len(track_ids), len(lead.conditions), config.data["shard_tracks"], config.data["batch_size"]
    )
    datamodule = PairDataModule(
        specs,
        done,
        prepared_track_loader(prepared_dir, encoder.sample_rate, track_ids),
        lead.conditions,
        encoder.sample_rate,
        render_threads=config.data["render_threads"],
        num_workers=config.data["num_workers"],
    )
    writer = ShardWriter(
        {
            t.prefix: (t.store, FRAME_KEYS if t.prefix else PAIR_KEYS, t.format, t.description)
            for t in targets
        }
    )
    callbacks: list[L.Callback] = [writer]
    bar = progress and is_terminal()
    if bar:
        callbacks.append(RichProgressBar())
    elif progress:  # a log file: a plain line every few seconds (pairs done, rate, ETA)
        todo = sum(len(s.pairs) for s in specs if s.shard not in done)
        label = f"embed {encoder.name}" + (" frames" if spec is not None else "")
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
        for target in targets:
            index = target.manifest[["track_id", "split"]].astype({"track_id": str})
            meta = {
                **target.description,
                "inputs_hash": target.inputs_hash,
                "data_hash": data_hash,
                "skipped_conditions": skipped,
            }
            target.store.assemble(
                n_shards(len(track_ids), config.data["shard_tracks"]),
                [c.id for c in target.conditions],
                index.reset_index(drop=True),
                meta,
            )
    return time.perf_counter() - started, writer.samples_embedded / encoder.sample_rate


def prepare_partial(store: EmbeddingStore, inputs_hash: str, timeout_s: float = 600) -> None:
    """Rank 0 keeps or clears the store's partial shards; the other ranks (other nodes, started
    at the same time by torchrun / srun) wait for it, then see the same finished shards."""
    if is_rank_zero():
        store.prepare_partial(inputs_hash)
        return
    marker = store.partial_dir / "inputs_hash"
    deadline = time.monotonic() + timeout_s
    while not (marker.is_file() and marker.read_text() == inputs_hash):
        if time.monotonic() > deadline:
            raise TimeoutError(f"rank 0 did not prepare {store.partial_dir} in {timeout_s:.0f} s")
        time.sleep(0.1)


def encoder_sample_rate(config: str | Path | EncoderConfig) -> int:
    """The working sample rate of an encoder config (a path or a read config), without building
    the model: the prepare stage decodes audio once per rate before any (possibly multi-GB) model
    is loaded. :meth:`Encoder.config_sample_rate` reads init args and small checkpoint configs."""
    if not isinstance(config, EncoderConfig):
        config = EncoderConfig.from_yaml(config)
    return config.sample_rate()
