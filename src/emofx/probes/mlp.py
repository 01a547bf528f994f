"""The MLP probe: a LightningModule on standardised embeddings, one layer or a learned mix.

Inputs are ``[n, n_layers, dim]`` (``n_layers`` = 1 for a single layer). With ``layer_mode:
weighted`` the layers are combined by a learned softmax-weighted sum (MARBLE's probe), which needs
zero-padded layers of equal width — exactly what the embedding store holds. The standardisation
statistics are buffers of the module, fitted on train rows only (:meth:`ProbeMLP.fit_scaling`), so a
logged model is self-contained.

Rows may be chunks of songs: every batch carries a ``group`` (song) index, validation and prediction
average the chunk logits per song before scoring (chunk → song aggregation).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.cli import instantiate_class
from lightning.pytorch.loggers import Logger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics.functional import accuracy, f1_score, r2_score

from emofx.lightning_config import read_lightning_config
from emofx.lightning_fit import fit_keeping_best
from emofx.probes.config import MlpParams, TaskName
from emofx.probes.metrics import MEAN_R2, short_target
from emofx.probes.tasks import N_QUADRANTS

PresetName = Literal["emotion_mlp", "marble"]
PRESETS: dict[str, tuple[list[int], float]] = {
    "emotion_mlp": ([512, 128], 0.3),  # seed report's EmotionMLP: in → 512 → 128 → out
    "marble": ([512], 0.2),  # MARBLE's probe: one 512 hidden layer
}


class ProbeMLP(L.LightningModule):
    """Standardise → (mix layers) → MLP head; ``forward`` returns task outputs, not logits.

    Regression outputs values (loss: MSE summed over targets); quadrant outputs 4 class
    probabilities (cross-entropy); labels output per-label probabilities (BCE on proportions).
    """

    def __init__(
        self,
        layer_dims: list[int],
        n_outputs: int,
        task: TaskName = "regression",
        output_names: list[str] | None = None,
        preset: PresetName = "emotion_mlp",
        hidden_sizes: list[int] | None = None,
        dropout: float | None = None,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        layer_mode: Literal["single", "weighted"] = "single",
    ) -> None:
        super().__init__()
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
        if layer_mode == "single" and len(layer_dims) != 1:
            raise ValueError(f"layer_mode 'single' takes one layer, got dims {layer_dims}")
        self.save_hyperparameters()
        preset_sizes, preset_dropout = PRESETS[preset]
        sizes = hidden_sizes if hidden_sizes is not None else preset_sizes
        p = dropout if dropout is not None else preset_dropout
        width = max(layer_dims)
        self.output_names = output_names or [f"y{j}" for j in range(n_outputs)]
        self.layer_logits = nn.Parameter(torch.zeros(len(layer_dims)))
        self.register_buffer("input_mean", torch.zeros(len(layer_dims), width))
        self.register_buffer("input_std", torch.ones(len(layer_dims), width))
        blocks: list[nn.Module] = []
        for size_in, size_out in zip([width, *sizes], sizes, strict=False):
            blocks += [nn.Linear(size_in, size_out), nn.ReLU(), nn.Dropout(p)]
        self.head = nn.Sequential(*blocks, nn.Linear(([width, *sizes])[-1], n_outputs))

    # --- model ---------------------------------------------------------------------------
    def fit_scaling(self, x_train: np.ndarray) -> None:
        """Per-feature mean/std of the train rows ``[n, n_layers, dim]`` (zero padding stays 0)."""
        x = torch.as_tensor(x_train, dtype=torch.float32)
        std = x.std(0, unbiased=False)
        self.input_mean.copy_(x.mean(0))
        self.input_std.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))

    def layer_weights(self) -> torch.Tensor:
        return torch.softmax(self.layer_logits, 0)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[n, n_layers, dim]``, or ``[n, dim]`` for a single-layer probe."""
        z = ((x[:, None] if x.dim() == 2 else x) - self.input_mean) / self.input_std
        return self.head((self.layer_weights()[None, :, None] * z).sum(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return outputs_from_logits(self.hparams.task, self.logits(x))

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        task = self.hparams.task
        if task in ("regression", "dynamic"):
            return F.mse_loss(logits, y, reduction="none").mean(0).sum()
        if task == "quadrant":
            return F.cross_entropy(logits, y)
        return F.binary_cross_entropy_with_logits(logits, y)

    # --- training loop -------------------------------------------------------------------
    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x, y, _ = batch
        loss = self.loss(self.logits(x), y)
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=len(x))
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_parts: list[tuple[torch.Tensor, ...]] = []

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x, y, group = batch
        self._val_parts.append((self.logits(x), y, group))

    def on_validation_epoch_end(self) -> None:
        logits, y, group = (torch.cat(parts) for parts in zip(*self._val_parts, strict=True))
        song_logits, first = per_group_mean(logits, group)
        song_y = y[first]
        self.log("val/loss", self.loss(song_logits, song_y))
        self.log_dict(self.song_metrics("val", song_logits, song_y))

    def song_metrics(self, split: str, logits: torch.Tensor, y: torch.Tensor) -> dict:
        """torchmetrics on song-level outputs, named like :mod:`emofx.probes.metrics`."""
        task = self.hparams.task
        if task == "quadrant":
            kw = {"task": "multiclass", "num_classes": N_QUADRANTS}
            return {
                f"{split}/accuracy_quadrant": accuracy(logits, y, average="micro", **kw),
                f"{split}/f1_macro_quadrant": f1_score(logits, y, average="macro", **kw),
            }
        out = outputs_from_logits(task, logits)
        if len(y) < 2:
            return {}
        r2 = r2_score(out, y, multioutput="raw_values").reshape(-1)
        metrics = {
            f"{split}/r2_{short_target(n)}": v for n, v in zip(self.output_names, r2, strict=True)
        }
        return metrics | {f"{split}/{MEAN_R2[task]}": r2.mean()}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )


def outputs_from_logits(task: TaskName, logits: torch.Tensor) -> torch.Tensor:
    if task == "quadrant":
        return torch.softmax(logits, -1)
    if task == "labels":
        return torch.sigmoid(logits)
    return logits


def per_group_mean(values: torch.Tensor, group: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of ``values`` rows per group (sorted group ids) and the first row of each group."""
    ids, inverse = torch.unique(group, return_inverse=True)
    sums = torch.zeros(len(ids), *values.shape[1:], dtype=values.dtype).index_add_(
        0, inverse, values
    )
    counts = torch.bincount(inverse, minlength=len(ids)).to(values.dtype)
    first = torch.full((len(ids),), len(group), dtype=torch.long).scatter_reduce_(
        0, inverse, torch.arange(len(group)), reduce="amin"
    )
    return sums / counts.view(-1, *[1] * (values.dim() - 1)), first


# --- configuration and fitting ---------------------------------------------------------------
@dataclass(frozen=True)
class MlpConfig:
    """``probe.mlp.yaml`` (LightningCLI layout) with params.yaml / tuning overrides applied."""

    source: Path
    model: dict[str, Any]  # class_path + init_args (without the data-dependent arguments)
    trainer: dict[str, Any]  # Trainer kwargs; ``callbacks`` as class_path/init_args specs
    batch_size: int

    @classmethod
    def load(cls, params: MlpParams, overrides: dict[str, Any] | None = None) -> MlpConfig:
        config = read_lightning_config(params.config, {"batch_size": 32}, "probe.mlp.config")
        trainer = dict(config.trainer)
        if params.max_epochs is not None:
            trainer["max_epochs"] = params.max_epochs
        init = {**config.model["init_args"], **params.overrides(), **(overrides or {})}
        return cls(
            config.source,
            {"class_path": config.model["class_path"], "init_args": init},
            trainer,
            params.batch_size or int(config.data["batch_size"]),
        )

    def build(
        self, layer_dims: list[int], n_outputs: int, task: TaskName, names: list[str]
    ) -> ProbeMLP:
        init = {**self.model["init_args"], "layer_dims": layer_dims, "n_outputs": n_outputs}
        init |= {"task": task, "output_names": names}
        try:
            model = instantiate_class((), {**self.model, "init_args": init})
        except (TypeError, ValueError, ImportError, AttributeError) as exc:
            raise ValueError(f"{self.source}: model: {exc}") from None
        if not isinstance(model, ProbeMLP):
            raise ValueError(f"{self.source}: model.class_path must name a ProbeMLP")
        return model


@contextmanager
def single_thread() -> Iterator[None]:
    """Probe MLPs are tiny: OpenMP synchronisation, not arithmetic, dominates a multi-threaded
    step (8x slower on two busy cores), so they train and predict on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class MlpSplit:
    """Rows of one split: inputs ``[n, n_layers, dim]``, targets, song index per row."""

    x: np.ndarray
    y: np.ndarray
    group: np.ndarray | None = None

    def tensors(self, task: TaskName) -> TensorDataset:
        y = torch.as_tensor(self.y, dtype=torch.long if task == "quadrant" else torch.float32)
        group = self.group if self.group is not None else np.arange(len(self.x))
        return TensorDataset(
            torch.as_tensor(self.x, dtype=torch.float32), y, torch.as_tensor(group)
        )


def fit_mlp(
    config: MlpConfig,
    task: TaskName,
    output_names: list[str],
    train: MlpSplit,
    val: MlpSplit,
    seed: int,
    *,
    callbacks: list[Callback] | None = None,
    logger: Logger | None = None,
) -> ProbeMLP:
    """Fit on train (scaling included), early-stop on val, return the best-val-loss weights."""
    L.seed_everything(seed, workers=True, verbose=False)
    n_outputs = N_QUADRANTS if task == "quadrant" else train.y.shape[1]
    layer_dims = [int(train.x.shape[2])] * train.x.shape[1]
    model = config.build(layer_dims, n_outputs, task, output_names)
    model.fit_scaling(train.x)
    loaders = (
        DataLoader(
            train.tensors(task),
            batch_size=config.batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        ),
        DataLoader(val.tensors(task), batch_size=4096),
    )
    with single_thread():
        return fit_keeping_best(
            model, *loaders, config.trainer, logger=logger, callbacks=callbacks or ()
        )


@torch.inference_mode()
def eval_loss(model: ProbeMLP, split: MlpSplit) -> float:
    """The task loss on song-level logits of ``split`` (what early stopping and tuning watch)."""
    x, y, group = split.tensors(model.hparams.task).tensors
    with single_thread():
        logits, first = per_group_mean(model.logits(x), group)
    return float(model.loss(logits, y[first]))


@torch.inference_mode()
def predict_mlp(model: ProbeMLP, x: np.ndarray, group: np.ndarray | None = None) -> np.ndarray:
    """Task outputs per song (``group``) or per row, ``[n, k]`` float64."""
    with single_thread():
        logits = model.logits(torch.as_tensor(np.asarray(x), dtype=torch.float32))
    if group is not None:
        logits, _ = per_group_mean(logits, torch.as_tensor(group))
    return outputs_from_logits(model.hparams.task, logits).double().numpy()
