"""The seed report's 386-d handcrafted features (librosa).

40 MFCC, 12 chroma, 128 mel bands (dB), 7 spectral-contrast bands and 6 tonnetz dimensions, each
summarised by its mean and standard deviation over frames: (40+12+128+7+6)·2 = 386. One STFT feeds
every feature; tonnetz is computed from the STFT chroma (librosa's default CQT chroma is ~20x slower
and changes nothing the probes need).
"""

from __future__ import annotations

import librosa
import numpy as np
import torch

from emofx.encoders.base import Encoder

FEATURE_BLOCKS = {"mfcc": 40, "chroma": 12, "mel": 128, "contrast": 7, "tonnetz": 6}


def feature_names() -> list[str]:
    """Names of the 386 dimensions in output order (``mfcc_03_mean``, …, ``tonnetz_5_std``)."""
    names = []
    for stat in ("mean", "std"):
        for block, n in FEATURE_BLOCKS.items():
            names += [f"{block}_{i:02d}_{stat}" for i in range(n)]
    return names


def handcrafted_features(
    audio: np.ndarray, sample_rate: int, n_fft: int = 2048, hop: int = 512
) -> np.ndarray:
    """Mono ``[samples]`` → float32 ``[386]`` (means then stds, blocks in FEATURE_BLOCKS order)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.shape[0] < n_fft:
        audio = np.pad(audio, (0, n_fft - audio.shape[0]))
    magnitude = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=hop))
    power = magnitude**2
    mel = librosa.feature.melspectrogram(S=power, sr=sample_rate, n_mels=128)
    mel_db = librosa.power_to_db(mel)
    chroma = librosa.feature.chroma_stft(S=power, sr=sample_rate)
    frames = np.concatenate(
        [
            librosa.feature.mfcc(S=mel_db, n_mfcc=40),
            chroma,
            mel_db,
            librosa.feature.spectral_contrast(S=magnitude, sr=sample_rate),
            librosa.feature.tonnetz(chroma=chroma, sr=sample_rate),
        ]
    )
    return np.concatenate([frames.mean(axis=1), frames.std(axis=1)]).astype(np.float32)


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
