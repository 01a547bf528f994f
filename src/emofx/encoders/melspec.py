"""Plain-torch mel spectrogram front end (no torchaudio: its PyPI wheel is a CUDA build).

:class:`MelSpectrogram` keeps torchaudio's state-dict layout (``spectrogram.window``,
``mel_scale.fb``) so checkpoints trained with ``torchaudio.transforms.MelSpectrogram`` (Musicnn)
load strictly into it. Filterbanks come from librosa.
"""

from __future__ import annotations

import librosa
import torch
from torch import nn

AMIN = 1e-10  # power floor before the log, as torchaudio's AmplitudeToDB and librosa.power_to_db


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    *,
    htk: bool = False,
    norm: str | None = "slaney",
) -> torch.Tensor:
    """``[n_fft // 2 + 1, n_mels]`` filterbank (librosa's, transposed for ``spec @ fb``)."""
    fb = librosa.filters.mel(
        sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=htk, norm=norm
    )
    return torch.from_numpy(fb.T.copy()).float()


def power_to_db(power: torch.Tensor, amin: float = AMIN) -> torch.Tensor:
    """``10·log10(max(power, amin))`` with reference 1.0: absolute, so gain changes stay visible."""
    return 10.0 * torch.log10(torch.clamp(power, min=amin))


def float32_features(device: torch.device) -> torch.autocast:
    """A log-mel front end running in torch on ``device``: keep it float32 under autocast
    (bf16-mixed), whose matmuls would otherwise round the mel filterbank to bf16."""
    return torch.autocast(device.type, enabled=False)


class Spectrogram(nn.Module):
    """Power spectrogram ``[..., samples]`` → ``[..., n_fft // 2 + 1, frames]`` (centred frames)."""

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.register_buffer("window", torch.hann_window(n_fft))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        lead = waveform.shape[:-1]
        stft = torch.stft(
            waveform.reshape(-1, waveform.shape[-1]),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=self.window.to(waveform.dtype),  # bf16-true casts buffers too
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        power = stft.real.square() + stft.imag.square()
        return power.reshape(*lead, *power.shape[-2:])


class MelScale(nn.Module):
    """A stored ``[n_freq, n_mels]`` filterbank: ``[..., n_freq, t]`` → ``[..., n_mels, t]``."""

    def __init__(self, fb: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("fb", fb)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        return torch.matmul(spec.transpose(-1, -2), self.fb.to(spec.dtype)).transpose(-1, -2)


class MelSpectrogram(nn.Module):
    """Power mel spectrogram ``[..., samples]`` → ``[..., n_mels, frames]``."""

    def __init__(
        self,
        sample_rate: int,
        n_fft: int,
        hop_length: int,
        n_mels: int,
        f_min: float = 0.0,
        f_max: float | None = None,
        *,
        htk: bool = False,
        norm: str | None = "slaney",
    ) -> None:
        super().__init__()
        self.spectrogram = Spectrogram(n_fft, hop_length)
        self.mel_scale = MelScale(
            mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max, htk=htk, norm=norm)
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.mel_scale(self.spectrogram(waveform))
