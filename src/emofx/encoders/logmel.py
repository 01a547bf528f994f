"""Log-mel baseline: 3-s chunks at 22.05 kHz → 128 mel bands × 128 frames in dB.

The embedding is the per-band mean and standard deviation over the chunk's frames (256 values).
:func:`logmel_chunks` exposes the chunk images themselves for the spectrogram models.
dB values are absolute (reference power 1.0, no top-dB clipping), so an effect that changes level
changes the features instead of being normalised away.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from emofx.encoders.base import Encoder, Pooling, cut_windows
from emofx.encoders.melspec import MelSpectrogram, power_to_db

SAMPLE_RATE = 22_050
N_MELS = 128
N_FRAMES = 128
N_FFT = 2048
HOP_LENGTH = 512  # 3 s = 130 centred frames; the first 128 (2.97 s) make the square chunk
CHUNK_S = 3.0


def melspec_frontend() -> MelSpectrogram:
    """The 22.05-kHz, 128-band front end (librosa's Slaney mel filterbank, 0 Hz – Nyquist)."""
    return MelSpectrogram(SAMPLE_RATE, N_FFT, HOP_LENGTH, N_MELS)


def chunk_images(frontend: MelSpectrogram, windows: torch.Tensor) -> torch.Tensor:
    """``[n, chunk_samples]`` → ``[n, 128, 128]`` dB mel images (mels × frames)."""
    return power_to_db(frontend(windows))[..., :N_FRAMES]


def logmel_chunks(audio: torch.Tensor, hop_s: float = CHUNK_S) -> torch.Tensor:
    """Mono 22.05-kHz audio ``[samples]`` → ``[n_chunks, 128, 128]`` dB chunks.

    Chunks are 3 s long every ``hop_s`` seconds; the last one is aligned to the end of the audio
    and audio shorter than a chunk is zero-padded (as in the encoders' windowing).
    """
    if audio.ndim != 1:
        raise ValueError(
            f"logmel_chunks expects mono audio [samples], got shape {tuple(audio.shape)}"
        )
    windows = cut_windows(audio.float(), round(CHUNK_S * SAMPLE_RATE), round(hop_s * SAMPLE_RATE))
    with torch.no_grad():  # not inference_mode: the chunks feed trainable models
        return chunk_images(melspec_frontend(), windows)


class LogMelEncoder(Encoder):
    """One layer ``band_stats``: per-band dB mean (128) then std (128) of each 3-s chunk."""

    name = "logmel"
    sample_rate = SAMPLE_RATE

    def __init__(
        self, hop_s: float = CHUNK_S, pooling: Pooling = "mean", window_batch_size: int = 64
    ) -> None:
        super().__init__(CHUNK_S, hop_s, pooling, window_batch_size)
        self.frontend = melspec_frontend()
        self.freeze()

    def layer_names(self) -> list[str]:
        return ["band_stats"]

    def window_layer_dims(self) -> list[int]:
        return [2 * N_MELS]

    def encode_windows(self, windows: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Band statistics over the frames a window really has (a clip shorter than 3 s is
        zero-padded to the chunk for the STFT, but its padding frames are left out)."""
        chunk = round(CHUNK_S * SAMPLE_RATE)
        padded = torch.stack([F.pad(w, (0, chunk - w.shape[-1])) for w in windows])
        images = chunk_images(self.frontend, padded)
        n_frames = torch.tensor([min(N_FRAMES, 1 + w.shape[-1] // HOP_LENGTH) for w in windows])
        valid = (torch.arange(N_FRAMES)[None] < n_frames[:, None]).to(images.dtype)[:, None]
        mean = (images * valid).sum(-1) / n_frames[:, None]
        var = (((images - mean[..., None]) * valid) ** 2).sum(-1) / n_frames[:, None]
        return [torch.cat([mean, var.sqrt()], dim=1)]
