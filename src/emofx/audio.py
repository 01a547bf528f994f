"""The one place that decodes, resamples, downmixes, trims and pads audio.

Decoding and resampling go through pedalboard's ``AudioFile`` (libsndfile/minimp3/LAME inside, a
windowed-sinc resampler), so every stage sees the same samples for the same file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile

from emofx.errors import EmofxError

SUPPORTED_EXTENSIONS = frozenset({".mp3", ".wav", ".flac", ".ogg", ".aiff", ".aif", ".m4a"})


class AudioDecodeError(EmofxError, ValueError):
    """A file that cannot be decoded as audio; the message says which and why."""


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def audio_info(path: str | Path) -> AudioInfo:
    """Header facts of an audio file without decoding it."""
    path = Path(path)
    _check_readable(path)
    try:
        with AudioFile(str(path)) as f:
            return AudioInfo(int(round(f.samplerate)), int(f.num_channels), int(f.frames))
    except Exception as exc:  # pedalboard raises bare RuntimeError/ValueError for bad files
        raise AudioDecodeError(f"{path}: cannot read audio header ({exc})") from exc


def load_audio(
    path: str | Path,
    sample_rate: int,
    *,
    mono: bool = True,
    offset_s: float = 0.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """Decode ``path`` resampled to ``sample_rate``.

    Returns float32 ``[samples]`` when ``mono`` (channel mean) else ``[channels, samples]``.
    ``offset_s``/``duration_s`` select a segment (in seconds of the original file).
    """
    path = Path(path)
    _check_readable(path)
    try:
        with AudioFile(str(path)) as raw, raw.resampled_to(float(sample_rate)) as f:
            start = int(round(offset_s * sample_rate))
            if start:
                f.seek(min(start, f.frames))
            n = f.frames - f.tell()
            if duration_s is not None:
                n = min(n, int(round(duration_s * sample_rate)))
            audio = f.read(max(n, 0))
    except Exception as exc:
        raise AudioDecodeError(f"{path}: cannot decode audio ({exc})") from exc
    audio = np.asarray(audio, dtype=np.float32)
    if not np.all(np.isfinite(audio)):
        raise AudioDecodeError(f"{path}: decoded samples contain NaN or Inf")
    return to_mono(audio) if mono else audio


def silent_tail_s(path: str | Path, probe_s: float = 0.5) -> float | None:
    """Seconds of digital silence (exact zeros) that end the file, or None when its last
    ``probe_s`` hold any sound. A file cut short still declares its full length and decodes as
    zeros from the cut on; the cut is found by bisection over ``probe_s`` blocks (a fresh reader
    per block: pedalboard cannot read after seeking backwards into a cut MP3's padding).
    """
    path = str(Path(path))

    def peak(start: int, n: int) -> np.ndarray:
        with AudioFile(path) as f:
            f.seek(start)
            return np.abs(np.asarray(f.read(n))).max(axis=0)

    with AudioFile(path) as f:
        rate, frames = float(f.samplerate), int(f.frames)
    n = min(frames, int(probe_s * rate))
    if n <= 0 or np.any(peak(frames - n, n)):
        return None
    if not np.any(peak(0, n)):
        return frames / rate
    lo, hi = 0, frames - n  # the block at lo has sound, the one at hi none
    while hi - lo > n:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if not np.any(peak(mid, n)) else (mid, hi)
    voiced = np.flatnonzero(peak(lo, hi - lo + n))
    return (frames - lo - int(voiced[-1]) - 1) / rate


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average channels: ``[channels, samples]`` → ``[samples]``; 1-D input is returned as is."""
    audio = np.asarray(audio, dtype=np.float32)
    return audio if audio.ndim == 1 else audio.mean(axis=0, dtype=np.float32)


def fit_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Trim or zero-pad the last axis to exactly ``n_samples``."""
    have = audio.shape[-1]
    if have >= n_samples:
        return audio[..., :n_samples]
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, n_samples - have)]
    return np.pad(audio, pad)


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int, **kwargs) -> None:
    """Write ``[samples]`` or ``[channels, samples]`` float audio; format from the extension."""
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    with AudioFile(str(path), "w", float(sample_rate), audio.shape[0], **kwargs) as f:
        f.write(audio)


def _check_readable(path: Path) -> None:
    if not path.is_file():
        raise AudioDecodeError(f"{path}: file not found")
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise AudioDecodeError(
            f"{path}: unsupported extension {path.suffix!r} "
            f"(supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))})"
        )
    if not os.access(path, os.R_OK):
        raise AudioDecodeError(f"{path}: permission denied (file not readable)")
    if path.stat().st_size == 0:
        raise AudioDecodeError(f"{path}: zero-byte file")
