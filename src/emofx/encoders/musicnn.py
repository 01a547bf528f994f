"""Musicnn (Pons et al., ISMIR 2018), the offline pretrained default encoder.

Architecture as in Won et al.'s "Evaluation of CNN-based automatic music tagging models"
(SMC 2020, github.com/minzwon/sota-music-tagging-models, MIT, (c) 2020 MTG UPF), whose trained
MTG-Jamendo and MagnaTagATune checkpoints load strictly into :class:`Musicnn`:

- front end on a 96-band dB mel spectrogram of 3-s, 16-kHz chunks: timbral filters spanning
  70 % / 40 % of the mel axis (max-pooled over frequency) and temporal filters of 129/65/33 frames
  on the frequency-averaged spectrogram → 561 channels per frame;
- mid end: three 1-D convolutions (64 channels) with residual connections;
- back end: max- and mean-pool over time of front + mid (753 · 2) → dense 200 (the embedding) →
  dense 50 → sigmoid (tag probabilities).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from emofx.encoders.base import Encoder, Pooling, encode_by_length
from emofx.encoders.melspec import MelSpectrogram, power_to_db
from emofx.encoders.musicnn_tags import MTAT_TAGS, MTG_JAMENDO_TAGS
from emofx.encoders.weights import (
    MUSICNN_MTAT,
    MUSICNN_MTG_JAMENDO,
    WeightsSpec,
    flush_denormals,
    load_checkpoint,
    load_strict,
    resolve_weights,
)

N_MELS = 96
FRONT_END_DIM = 2 * 204 + 3 * 51
MID_END_CHANNELS = 64
EMBEDDING_DIM = 200

CheckpointName = Literal["mtg_jamendo", "mtat"]
CHECKPOINTS: dict[str, tuple[WeightsSpec, tuple[str, ...]]] = {
    "mtg_jamendo": (MUSICNN_MTG_JAMENDO, MTG_JAMENDO_TAGS),
    "mtat": (MUSICNN_MTAT, MTAT_TAGS),
}


class MusicnnOutput(NamedTuple):
    front_end: torch.Tensor  # [n, 561, frames]
    mid_end: torch.Tensor  # [n, 192, frames]: the three residual mid-end outputs
    embedding: torch.Tensor  # [n, 200]
    tags: torch.Tensor  # [n, n_tags] probabilities


class TimbralFilters(nn.Module):
    """Vertical filters spanning ``n_bins`` mel bands, max-pooled over frequency."""

    def __init__(self, channels: int, n_bins: int, width: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, channels, (n_bins, width), padding=(0, width // 2))
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        if self.training:
            return F.relu(self.bn(self.conv(spec))).amax(dim=2)
        # Eval-mode BN + ReLU is monotone per channel, so pool over frequency first and skip BN and
        # ReLU on the full map (a quarter of the CPU time): the max for channels with a positive BN
        # scale, the min (= -max of the negated filter) for negative ones.
        scale = self.bn.weight * torch.rsqrt(self.bn.running_var + self.bn.eps)
        sign = torch.where(scale < 0, -1.0, 1.0)
        weight, bias = self.conv.weight * sign[:, None, None, None], self.conv.bias * sign
        flipped = F.conv2d(spec, weight, bias, padding=self.conv.padding)
        peak = sign[:, None] * flipped.amax(dim=2)
        return F.relu(self.bn(peak.unsqueeze(2))).squeeze(2)


class TemporalFilters(nn.Module):
    """1-D filters of ``length`` frames on the frequency-averaged spectrogram."""

    def __init__(self, channels: int, length: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, channels, length, padding=length // 2)
        self.bn = nn.BatchNorm1d(channels)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(spec.mean(dim=2))))


class MidEndConv(nn.Module):
    def __init__(self, in_channels: int, channels: int, width: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, channels, width, padding=width // 2)
        self.bn = nn.BatchNorm1d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class Musicnn(nn.Module):
    """16-kHz waveform chunks ``[n, samples]`` → :class:`MusicnnOutput`."""

    def __init__(self, n_tags: int = 50) -> None:
        super().__init__()
        self.spec = MelSpectrogram(16_000, 512, 256, N_MELS, 0.0, 8000.0, htk=True, norm=None)
        self.spec_bn = nn.BatchNorm2d(1)
        self.layers = nn.ModuleList(
            [
                TimbralFilters(204, int(0.7 * N_MELS)),
                TimbralFilters(204, int(0.4 * N_MELS)),
                TemporalFilters(51, 129),
                TemporalFilters(51, 65),
                TemporalFilters(51, 33),
            ]
        )
        self.layer1 = MidEndConv(FRONT_END_DIM, MID_END_CHANNELS)
        self.layer2 = MidEndConv(MID_END_CHANNELS, MID_END_CHANNELS)
        self.layer3 = MidEndConv(MID_END_CHANNELS, MID_END_CHANNELS)
        self.dense1 = nn.Linear(2 * (FRONT_END_DIM + 3 * MID_END_CHANNELS), EMBEDDING_DIM)
        self.bn = nn.BatchNorm1d(EMBEDDING_DIM)
        self.dense2 = nn.Linear(EMBEDDING_DIM, n_tags)

    def forward(self, waveform: torch.Tensor) -> MusicnnOutput:
        spec = self.spec_bn(power_to_db(self.spec(waveform)).unsqueeze(1))
        front = torch.cat([layer(spec) for layer in self.layers], dim=1)
        res1 = self.layer1(front)
        res2 = self.layer2(res1) + res1
        res3 = self.layer3(res2) + res2
        mid = torch.cat([res1, res2, res3], dim=1)
        features = torch.cat([front, mid], dim=1)
        pooled = torch.cat([features.amax(dim=-1), features.mean(dim=-1)], dim=1)
        embedding = F.relu(self.bn(self.dense1(pooled)))
        return MusicnnOutput(front, mid, embedding, torch.sigmoid(self.dense2(embedding)))


def load_musicnn(path: Path, n_tags: int) -> Musicnn:
    """A :class:`Musicnn` from a plain state-dict file, loaded strictly, denormals flushed."""
    model = Musicnn(n_tags)
    load_strict(model, flush_denormals(load_checkpoint(path)), path, "Musicnn")
    return model.eval()


class MusicnnEncoder(Encoder):
    """Layers: time-averaged front end (561) and mid end (192), the 200-d embedding, the tags."""

    name = "musicnn"
    sample_rate = 16_000

    def __init__(
        self,
        checkpoint: CheckpointName = "mtg_jamendo",
        weights_path: str | None = None,
        allow_download: bool = True,
        window_s: float = 3.0,
        hop_s: float | None = None,
        pooling: Pooling = "mean",
        window_batch_size: int = 16,
    ) -> None:
        super().__init__(window_s, hop_s, pooling, window_batch_size)
        if checkpoint not in CHECKPOINTS:
            raise ValueError(f"checkpoint must be one of {sorted(CHECKPOINTS)}, got {checkpoint!r}")
        spec, self.tag_names = CHECKPOINTS[checkpoint]
        self.checkpoint = checkpoint
        # Also flush denormals in CPU arithmetic (a process-wide setting): the MTG-Jamendo file
        # holds ~98k denormal weights, reported to slow inference ~20x on some CPUs.
        torch.set_flush_denormal(True)
        self.weights_file = resolve_weights(spec, weights_path, allow_download=allow_download)
        self.model = load_musicnn(self.weights_file, len(self.tag_names))
        self.freeze()

    def layer_names(self) -> list[str]:
        return ["front_end", "mid_end", "embedding", "tags"]

    def window_layer_dims(self) -> list[int]:
        return [FRONT_END_DIM, 3 * MID_END_CHANNELS, EMBEDDING_DIM, len(self.tag_names)]

    def encode_windows(self, windows: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """A clip shorter than a window is encoded at its real length: the model pools over
        time itself (the upstream release has no padding rule; its extractor needs >= 3 s)."""
        return encode_by_length(windows, self._encode)

    def _encode(self, windows: torch.Tensor) -> list[torch.Tensor]:
        out = self.model(windows)
        return [out.front_end.mean(-1), out.mid_end.mean(-1), out.embedding, out.tags]

    def describe(self) -> dict:
        return {
            **super().describe(),
            "checkpoint": self.checkpoint,
            "tag_names": list(self.tag_names),
        }
