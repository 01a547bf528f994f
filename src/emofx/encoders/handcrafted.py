"""The seed report's 386-d handcrafted features (librosa).

40 MFCC, 12 chroma, 128 mel bands (dB), 7 spectral-contrast bands and 6 tonnetz dimensions, each
summarised by its mean and standard deviation over frames: (40+12+128+7+6)·2 = 386. One STFT feeds
every feature; tonnetz is computed from the STFT chroma (librosa's default CQT chroma is ~20x slower
and changes nothing the probes need).
"""

from __future__ import annotations

from collections.abc import Sequence

import librosa
import numpy as np
import torch

from emofx.encoders.base import Encoder, Span

FEATURE_BLOCKS = {"mfcc": 40, "chroma": 12, "mel": 128, "contrast": 7, "tonnetz": 6}


def feature_names() -> list[str]:
    """Names of the 386 dimensions in output order (``mfcc_03_mean``, …, ``tonnetz_5_std``)."""
    names = []
    for stat in ("mean", "std"):
        for block, n in FEATURE_BLOCKS.items():
            names += [f"{block}_{i:02d}_{stat}" for i in range(n)]
    return names


def frame_features(
    audio: np.ndarray, sample_rate: int, n_fft: int = 2048, hop: int = 512
) -> np.ndarray:
    """Mono ``[samples]`` → ``[193, n_stft_frames]`` (blocks in FEATURE_BLOCKS order).

    STFT frame ``j`` is centred on sample ``j·hop`` (librosa's ``center=True``).
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.shape[0] < n_fft:
        audio = np.pad(audio, (0, n_fft - audio.shape[0]))
    magnitude = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=hop))
    power = magnitude**2
    mel = librosa.feature.melspectrogram(S=power, sr=sample_rate, n_mels=128)
    mel_db = librosa.power_to_db(mel)
    chroma = librosa.feature.chroma_stft(S=power, sr=sample_rate)
    return np.concatenate(
        [
            librosa.feature.mfcc(S=mel_db, n_mfcc=40),
            chroma,
            mel_db,
            librosa.feature.spectral_contrast(S=magnitude, sr=sample_rate),
            librosa.feature.tonnetz(chroma=chroma, sr=sample_rate),
        ]
    )


def handcrafted_features(
    audio: np.ndarray, sample_rate: int, n_fft: int = 2048, hop: int = 512
) -> np.ndarray:
    """Mono ``[samples]`` → float32 ``[386]`` (means then stds, blocks in FEATURE_BLOCKS order)."""
    frames = frame_features(audio, sample_rate, n_fft, hop)
    return np.concatenate([frames.mean(axis=1), frames.std(axis=1)]).astype(np.float32)


def pooled_spans(frames: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Mean and std of ``frames[:, a:b]`` for every ``(a, b)`` span → ``[n_spans, 2·d]``.

    Cumulative sums make every span O(d), so 2-Hz frames cost one feature pass per clip.
    """
    x = frames.astype(np.float64)
    zero = np.zeros((x.shape[0], 1))
    c1 = np.concatenate([zero, np.cumsum(x, axis=1)], axis=1)
    c2 = np.concatenate([zero, np.cumsum(x**2, axis=1)], axis=1)
    a, b = (np.array(v) for v in zip(*spans, strict=True))
    n = (b - a).astype(np.float64)
    mean = (c1[:, b] - c1[:, a]) / n
    var = np.maximum((c2[:, b] - c2[:, a]) / n - mean**2, 0.0)
    return np.concatenate([mean.T, np.sqrt(var).T], axis=1).astype(np.float32)


class HandcraftedEncoder(Encoder):
    """librosa features of the whole clip as one 386-d layer (no weights, no windows)."""

    name = "handcrafted"

    def __init__(self, sample_rate: int = 22_050, n_fft: int = 2048, hop_length: int = 512) -> None:
        super().__init__(window_s=None, pooling="mean")
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length

    def layer_names(self) -> list[str]:
        return ["features"]

    def window_layer_dims(self) -> list[int]:
        return [2 * sum(FEATURE_BLOCKS.values())]

    def checkpoint_id(self) -> str:
        return f"librosa-{librosa.__version__}-nfft{self.n_fft}-hop{self.hop_length}"

    def encode_windows(self, windows: torch.Tensor) -> list[torch.Tensor]:
        feats = [
            handcrafted_features(w.cpu().numpy(), self.sample_rate, self.n_fft, self.hop_length)
            for w in windows
        ]
        return [torch.from_numpy(np.stack(feats))]

    def encode_clips(
        self, clips: Sequence[tuple[torch.Tensor, list[Span]]]
    ) -> list[list[torch.Tensor]]:
        """One feature pass per clip; each span pools the STFT frames centred inside it, and
        the whole clip is exactly :func:`handcrafted_features` (what ``encode_windows`` gives)."""
        out = []
        for audio, spans in clips:
            n_samples = audio.shape[-1]
            frames = frame_features(
                audio.cpu().numpy(), self.sample_rate, self.n_fft, self.hop_length
            )
            whole = np.concatenate([frames.mean(axis=1), frames.std(axis=1)]).astype(np.float32)
            n = frames.shape[1]
            bounds = []
            for s, e in spans:
                a = min(-(-s // self.hop_length), n - 1)
                b = n if e >= n_samples else min(-(-e // self.hop_length), n)
                bounds.append((a, max(b, a + 1)))
            rows = pooled_spans(frames, bounds)
            rows[[span == (0, n_samples) for span in spans]] = whole
            out.append([torch.from_numpy(rows)])
        return out
