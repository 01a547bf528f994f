"""Phase 2: the seed report's four log-mel networks as LightningModules.

Input: ``[batch, 128 mels, 128 frames]`` dB chunks, standardised by a scalar mean/std fitted on
train chunks (buffers, so a checkpoint is self-contained). Every network regresses the targets of
its chunk's song (MSE); validation averages chunk outputs per song before scoring.

1. :class:`CNN`: 3 × [Conv2d 16/32/64 → BN → ReLU → MaxPool] → flatten → FC 128 → dropout → out
2. :class:`CNNSE`: the same blocks with Squeeze-and-Excitation, then a temporal Conv1d over the
   frame axis (mel-averaged) and time averaging → FC 128 → dropout → out
3. :class:`CNNSEGRU`: CNN-SE + temporal Conv1d → GRU (hidden 64), last state → FC 128 → out
4. :class:`CNNSEGRUAttention`: as 3, but attention pooling over all GRU time steps
"""

from __future__ import annotations

from abc import abstractmethod

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.functional import r2_score

from emofx.probes.metrics import short_target
from emofx.probes.mlp import per_group_mean

CHANNELS = (16, 32, 64)
N_MELS = 128
N_FRAMES = 128


class SqueezeExcitation(nn.Module):
    """Channel gates from globally pooled features (Hu et al., 2018)."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(channels, hidden),
            nn.ReLU(),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)[:, :, None, None]


def conv_stack(se: bool, se_reduction: int = 4) -> nn.Sequential:
    """3 × [Conv2d 3×3 → BN → ReLU → (SE) → MaxPool 2]: [b, 1, 128, 128] → [b, 64, 16, 16]."""
    layers: list[nn.Module] = []
    for c_in, c_out in zip((1, *CHANNELS), CHANNELS, strict=False):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
        if se:
            layers.append(SqueezeExcitation(c_out, se_reduction))
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class SpectrogramNet(L.LightningModule):
    """Shared scaling, head, loss, per-song validation and optimiser; subclasses ``encode``."""

    def __init__(
        self,
        n_outputs: int = 2,
        output_names: list[str] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        dropout: float = 0.3,
        se_reduction: int = 4,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.output_names = output_names or [f"y{j}" for j in range(n_outputs)]
        self.register_buffer("input_mean", torch.zeros(()))
        self.register_buffer("input_std", torch.ones(()))
        self.head = nn.Sequential(
            nn.Linear(self.feature_width, 128),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(128, n_outputs),
        )

    feature_width: int
    """Width of :meth:`encode`'s output."""

    @abstractmethod
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised ``[b, 1, 128, 128]`` → ``[b, feature_width]``."""

    def fit_scaling(self, images: torch.Tensor) -> None:
        """Scalar dB mean/std of the train chunks."""
        self.input_mean.copy_(images.mean())
        self.input_std.copy_(images.std().clamp_min(1e-6))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = ((images - self.input_mean) / self.input_std).unsqueeze(1)
        return self.head(self.encode(x))

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        images, y, _ = batch
        loss = F.mse_loss(self(images), y)
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=len(images))
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_parts: list[tuple[torch.Tensor, ...]] = []

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        images, y, group = batch
        self._val_parts.append((self(images), y, group))

    def on_validation_epoch_end(self) -> None:
        pred, y, group = (torch.cat(p) for p in zip(*self._val_parts, strict=True))
        song_pred, first = per_group_mean(pred, group)
        song_y = y[first]
        self.log("val/loss", F.mse_loss(song_pred, song_y))
        if len(song_y) > 1:
            r2 = r2_score(song_pred, song_y, multioutput="raw_values").reshape(-1)
            for name, value in zip(self.output_names, r2, strict=True):
                self.log(f"val/r2_{short_target(name)}", value)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )


class CNN(SpectrogramNet):
    """Plain CNN, flattened feature maps into the 128-unit head."""

    feature_width = CHANNELS[-1] * (N_MELS // 8) * (N_FRAMES // 8)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.features = conv_stack(se=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).flatten(1)


class CNNSE(SpectrogramNet):
    """SE blocks, then a temporal Conv1d over frames (mels averaged), averaged over time."""

    feature_width = CHANNELS[-1]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.features = conv_stack(se=True, se_reduction=self.hparams.se_reduction)
        width = CHANNELS[-1]
        self.temporal = nn.Sequential(
            nn.Conv1d(width, width, 3, padding=1), nn.BatchNorm1d(width), nn.ReLU()
        )

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """``[b, 1, 128, 128]`` → ``[b, channels, time steps]``."""
        return self.temporal(self.features(x).mean(dim=2))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.sequence(x).mean(dim=2)


class CNNSEGRU(CNNSE):
    """CNN-SE sequence → GRU (hidden 64); the last hidden state feeds the head."""

    hidden = 64
    feature_width = hidden

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gru = nn.GRU(CHANNELS[-1], self.hidden, batch_first=True)

    def steps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """GRU outputs ``[b, t, hidden]`` and last state ``[b, hidden]``."""
        out, last = self.gru(self.sequence(x).transpose(1, 2))
        return out, last[-1]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.steps(x)[1]


class CNNSEGRUAttention(CNNSEGRU):
    """CNN-SE + GRU with additive attention pooling over all time steps."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.attention = nn.Linear(self.hidden, 1)

    def attention_weights(self, out: torch.Tensor) -> torch.Tensor:
        """Softmax over time of per-step scores, ``[b, t]``."""
        return torch.softmax(self.attention(torch.tanh(out)).squeeze(-1), dim=1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.steps(x)
        return (self.attention_weights(out).unsqueeze(-1) * out).sum(dim=1)


NETWORKS: dict[str, type[SpectrogramNet]] = {
    "cnn": CNN,
    "cnn_se": CNNSE,
    "cnn_se_gru": CNNSEGRU,
    "cnn_se_gru_attn": CNNSEGRUAttention,
}
