"""PANNs CNN14 (Kong et al., "PANNs: Large-scale pretrained audio neural networks", 2020).

:class:`Cnn14` reproduces the official ``audioset_tagging_cnn`` module layout, so the released
checkpoint (``{"model": state_dict}``, e.g. ``Cnn14_mAP=0.431.pth``) loads strictly. Its front end
lives in the checkpoint as well: the STFT as two Conv1d kernels (Hann-windowed DFT bases,
``spectrogram_extractor.stft.conv_real/conv_imag``) and the librosa (Slaney) mel filterbank
``logmel_extractor.melW``. Channel widths, mel bands, FFT size and class count are read from the
checkpoint's shapes (tests use tiny random models); hop, sample rate and mel range are not stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import get_window
from torch import nn

from emofx.encoders.base import Encoder, Pooling, encode_by_length
from emofx.encoders.melspec import mel_filterbank, power_to_db
from emofx.encoders.weights import PANNS_CNN14, load_checkpoint, load_strict, resolve_weights

CNN14_CHANNELS = (64, 128, 256, 512, 1024, 2048)
SAMPLE_RATE = 32_000
HOP_LENGTH = 320
F_MIN, F_MAX = 50.0, 14_000.0


class STFT(nn.Module):
    """Centred (reflect-padded) STFT as a strided Conv1d over Hann-windowed DFT kernels."""

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.n_fft = n_fft
        window = get_window("hann", n_fft, fftbins=True)
        basis = np.fft.rfft(np.eye(n_fft), axis=1) * window[:, None]  # [n_fft, n_fft // 2 + 1]
        self.conv_real = nn.Conv1d(1, n_fft // 2 + 1, n_fft, stride=hop_length, bias=False)
        self.conv_imag = nn.Conv1d(1, n_fft // 2 + 1, n_fft, stride=hop_length, bias=False)
        self.requires_grad_(False)  # a fixed transform, as upstream (freeze_parameters=True)
        self.conv_real.weight.copy_(torch.from_numpy(basis.real.T[:, None, :]))
        self.conv_imag.weight.copy_(torch.from_numpy(basis.imag.T[:, None, :]))

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.pad(waveform[:, None, :], (self.n_fft // 2, self.n_fft // 2), mode="reflect")
        return self.conv_real(x), self.conv_imag(x)  # [n, freq, frames] each


class Spectrogram(nn.Module):
    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.stft = STFT(n_fft, hop_length)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        real, imag = self.stft(waveform)
        return (real.square() + imag.square()).transpose(1, 2)  # [n, frames, freq]


class LogmelFilterBank(nn.Module):
    def __init__(self, sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float):
        super().__init__()
        fb = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
        self.melW = nn.Parameter(fb, requires_grad=False)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        return power_to_db(power @ self.melW)  # [n, frames, mels]


class ConvBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.avg_pool2d(x, pool)


class Cnn14(nn.Module):
    """Waveform ``[n, samples]`` → six block outputs ``[n, c, frames, mels]`` and the embedding.

    ``fc_audioset`` (the AudioSet head) is kept for strict loading; its outputs are not used.
    """

    def __init__(
        self,
        channels: Sequence[int] = CNN14_CHANNELS,
        n_mels: int = 64,
        n_fft: int = 1024,
        classes_num: int = 527,
        sample_rate: int = SAMPLE_RATE,
        hop_length: int = HOP_LENGTH,
        f_min: float = F_MIN,
        f_max: float = F_MAX,
    ) -> None:
        super().__init__()
        if len(channels) != 6:
            raise ValueError(f"CNN14 has 6 conv blocks, got channels={list(channels)}")
        self.spectrogram_extractor = Spectrogram(n_fft, hop_length)
        self.logmel_extractor = LogmelFilterBank(sample_rate, n_fft, n_mels, f_min, f_max)
        self.bn0 = nn.BatchNorm2d(n_mels)
        widths = [1, *channels]
        for i in range(6):
            self.add_module(f"conv_block{i + 1}", ConvBlock(widths[i], widths[i + 1]))
        self.fc1 = nn.Linear(channels[-1], channels[-1])
        self.fc_audioset = nn.Linear(channels[-1], classes_num)

    def blocks(self) -> list[ConvBlock]:
        return [getattr(self, f"conv_block{i}") for i in range(1, 7)]

    def forward(self, waveform: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        x = self.logmel_extractor(self.spectrogram_extractor(waveform))[:, None]  # [n,1,t,mels]
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)  # bn0 normalises each mel band
        outputs = []
        for i, block in enumerate(self.blocks()):
            x = block(x, pool=2 if i < 5 else 1)
            outputs.append(x)
        x = x.mean(dim=3)
        embedding = F.relu(self.fc1(x.amax(dim=2) + x.mean(dim=2)))
        return outputs, embedding


def load_cnn14(
    path: Path, *, sample_rate: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH
) -> Cnn14:
    """A :class:`Cnn14` sized from, and strictly loaded with, an official-format checkpoint."""
    checkpoint = load_checkpoint(path)
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        found = (
            sorted(checkpoint)[:8] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        )
        raise ValueError(f"{path}: not a PANNs checkpoint (no 'model' entry; found {found})")
    state = checkpoint["model"]
    try:
        channels = [state[f"conv_block{i}.conv1.weight"].shape[0] for i in range(1, 7)]
        n_fft = state["spectrogram_extractor.stft.conv_real.weight"].shape[-1]
        n_mels = state["logmel_extractor.melW"].shape[1]
        classes_num = state["fc_audioset.weight"].shape[0]
    except KeyError as exc:
        raise ValueError(f"{path}: not a CNN14 checkpoint (missing {exc.args[0]!r})") from exc
    model = Cnn14(channels, n_mels, n_fft, classes_num, sample_rate, hop_length)
    load_strict(model, state, path, "PANNs CNN14")
    return model.eval()


class PannsEncoder(Encoder):
    """Layers: each conv block averaged over time and mel bands, and the fc1 embedding."""

    name = "panns"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        weights_path: str | None = None,
        window_s: float = 10.0,
        hop_s: float | None = None,
        pooling: Pooling = "mean",
        window_batch_size: int = 4,
    ) -> None:
        super().__init__(window_s, hop_s, pooling, window_batch_size)
        self.model = load_cnn14(resolve_weights(PANNS_CNN14, weights_path))
        self.freeze()

    def layer_names(self) -> list[str]:
        return [f"block{i}" for i in range(1, 7)] + ["embedding"]

    def window_layer_dims(self) -> list[int]:
        widths = [block.conv2.out_channels for block in self.model.blocks()]
        return widths + [self.model.fc1.out_features]

    def encode_windows(self, windows: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """A clip shorter than a window is encoded at its real length, as the PANNs release's
        inference does (no padding to 10 s)."""
        return encode_by_length(windows, self._encode)

    def _encode(self, windows: torch.Tensor) -> list[torch.Tensor]:
        blocks, embedding = self.model(windows)
        return [b.mean(dim=(2, 3)) for b in blocks] + [embedding]
