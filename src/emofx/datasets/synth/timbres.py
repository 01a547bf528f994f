"""Instrument voices: one function per timbre, each rendering a single note with numpy.

Pitched voices share the signature ``(freq_hz, n_samples, sample_rate, brightness, rng)`` and
return an un-enveloped mono signal; the brightness cue (0 dark … 1 bright) shapes each one's
spectrum: harmonic roll-off (additive wavetable), modulation index (FM), excitation smoothing
(Karplus–Strong pluck). Drum hits are fixed one-shots rendered once per clip.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

WAVETABLE_SIZE = 4096
MAX_HARMONICS = 32

Voice = Callable[[float, int, int, float, np.random.Generator], np.ndarray]


@lru_cache(maxsize=512)
def _wavetable(n_harmonics: int, rolloff: float) -> np.ndarray:
    """One period of a band-limited tone whose k-th harmonic has amplitude ``k ** -rolloff``."""
    spectrum = np.zeros(WAVETABLE_SIZE // 2 + 1, dtype=complex)
    k = np.arange(1, n_harmonics + 1)
    spectrum[k] = -1j * k**-rolloff  # sine phase
    table = np.fft.irfft(spectrum, WAVETABLE_SIZE)
    return (table / np.abs(table).max()).astype(np.float32)


def additive(
    freq: float, n: int, sample_rate: int, brightness: float, rng: np.random.Generator
) -> np.ndarray:
    """Wavetable additive tone; darker = steeper harmonic roll-off (k^-2.4 … k^-0.8)."""
    n_harmonics = int(np.clip(0.45 * sample_rate // freq, 1, MAX_HARMONICS))
    table = _wavetable(n_harmonics, round(2.4 - 1.6 * brightness, 2))
    phase = (rng.random() + freq / sample_rate * np.arange(n)) % 1.0
    return table[(phase * WAVETABLE_SIZE).astype(np.int64)]


def fm(
    freq: float, n: int, sample_rate: int, brightness: float, rng: np.random.Generator
) -> np.ndarray:
    """Two-operator FM (electric-piano-like): the modulation index decays after the attack."""
    phase = (2 * np.pi * freq / sample_rate * np.arange(n)).astype(np.float32)
    index = np.float32(0.4 + 3.5 * brightness) * np.exp(
        phase * np.float32(-1.0 / (0.4 * 2 * np.pi * freq))
    )
    return np.sin(phase + index * np.sin(phase))


def pluck(
    freq: float, n: int, sample_rate: int, brightness: float, rng: np.random.Generator
) -> np.ndarray:
    """Karplus–Strong string, computed one period per numpy step; darker = smoothed excitation."""
    period = max(2, int(round(sample_rate / freq - 0.5)))
    smooth = 1 + int(round((1.0 - brightness) * 6))
    burst = np.convolve(rng.uniform(-1.0, 1.0, period + smooth), np.ones(smooth) / smooth, "valid")
    out = np.zeros(n + 2 * period)
    out[:period] = burst[:period] - burst[:period].mean()
    loss = 0.5 * 0.996
    for start in range(period, n + period, period):
        previous = out[start - period - 1 : start] if start > period else np.r_[0.0, out[:period]]
        out[start : start + period] = loss * (previous[1:] + previous[:-1])
    out = out[:n]
    return (out / max(np.abs(out).max(), 1e-9)).astype(np.float32)


PITCHED_VOICES: dict[str, Voice] = {"additive": additive, "fm": fm, "pluck": pluck}
TIMBRE_CHOICES: dict[str, tuple[str, ...]] = {
    "melody": ("additive", "fm", "pluck"),
    "chords": ("additive", "fm"),
    "bass": ("pluck", "additive"),
}
"""Which voices each part may be played on (one is drawn per track)."""


def drum_kit(sample_rate: int, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """GM drum number → one-shot: kick (falling sine), snare (noise + tone), hi-hat (HP noise)."""
    t = np.arange(int(0.35 * sample_rate)) / sample_rate
    kick_freq = 45.0 + 110.0 * np.exp(-t / 0.04)
    kick = np.sin(2 * np.pi * np.cumsum(kick_freq) / sample_rate) * np.exp(-t / 0.18)
    ts = t[: int(0.2 * sample_rate)]
    snare = 0.7 * rng.uniform(-1, 1, len(ts)) * np.exp(-ts / 0.06)
    snare += 0.5 * np.sin(2 * np.pi * 190.0 * ts) * np.exp(-ts / 0.04)
    th = t[: int(0.08 * sample_rate)]
    hat = np.diff(rng.uniform(-1, 1, len(th) + 1)) * 0.5 * np.exp(-th / 0.02)
    return {36: kick.astype(np.float32), 38: snare.astype(np.float32), 42: hat.astype(np.float32)}
