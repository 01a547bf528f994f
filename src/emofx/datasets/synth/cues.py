"""The emotion model of the synthetic corpus: planted musical cues → valence/arousal.

Each track gets independent cue values (a Latin hypercube over the cue ranges, so even a small
corpus covers every range and the cues stay nearly uncorrelated). Valence and arousal are a linear
model on the *standardised* cues (z-scores under the sampling distribution, so the model does not
depend on the corpus size), rescaled to DEAM's 1–9 scale. Listener noise is added on top: static
labels are the mean/std of simulated 9-point ratings, dynamic labels follow the within-clip cue
trajectories (crescendo, rhythmic build-up) with a reaction lag and slow drift.
The coefficients and their rationale are documented in ``docs/synthetic_corpus.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.stats import qmc


@dataclass(frozen=True)
class Cue:
    """One planted cue, sampled uniformly on ``[low, high]``."""

    name: str
    low: float
    high: float
    meaning: str
    binary: bool = False

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def std(self) -> float:
        width = self.high - self.low
        return width / 2 if self.binary else width / np.sqrt(12)


CUES: tuple[Cue, ...] = (
    Cue("tempo_bpm", 60.0, 180.0, "beats per minute"),
    Cue("major", 0.0, 1.0, "1 = major mode, 0 = minor (a 50/50 split)", binary=True),
    Cue("register", 55.0, 79.0, "melody centre pitch (MIDI note; 60 = C4)"),
    Cue("loudness_db", -32.0, -16.0, "clip-average RMS level of the mix (dBFS)"),
    Cue("articulation", 0.0, 1.0, "0 = legato (notes fill their slot) … 1 = staccato"),
    Cue("brightness", 0.0, 1.0, "timbre brightness: harmonic roll-off, FM index, low-pass cutoff"),
    Cue("dissonance", 0.0, 1.0, "share of clustered chords, chromatic melody notes, detuning"),
    Cue("density", 0.1, 0.9, "rhythmic density: melody notes and hi-hats per beat"),
)
"""Static cues, the inputs of the emotion model."""

TRAJECTORY_CUES: tuple[Cue, ...] = (
    Cue("loudness_slope_db", -8.0, 8.0, "level change from clip start to end (crescendo > 0)"),
    Cue("density_slope", -0.2, 0.2, "density change from clip start to end (build-up > 0)"),
)
"""Within-clip evolution: the static cue is the clip midpoint, the ends are ± slope / 2."""
CUE_BY_NAME: dict[str, Cue] = {c.name: c for c in CUES + TRAJECTORY_CUES}

AROUSAL_WEIGHTS: dict[str, float] = {
    "tempo_bpm": 0.45,
    "loudness_db": 0.35,
    "density": 0.30,
    "articulation": 0.20,
    "brightness": 0.20,
    "dissonance": 0.10,
    "register": 0.05,
}
VALENCE_WEIGHTS: dict[str, float] = {
    "major": 0.50,
    "dissonance": -0.35,
    "tempo_bpm": 0.25,
    "register": 0.20,
    "density": 0.15,
    "brightness": 0.10,
    "articulation": 0.10,
}
LABEL_CENTRE = 5.0
"""Neutral point of DEAM's 1–9 scale."""
LABEL_SPREAD = 1.1
"""Standard deviation of the noiseless labels on the 1–9 scale; with listener noise the static
means spread like DEAM's (sd ≈ 1.2–1.3)."""

LISTENERS_PER_SONG = (5, 10)
LISTENER_BIAS_SD = 0.5
"""Per-listener offset (some listeners rate everything higher)."""
LISTENER_NOISE_SD = 1.4
"""Per-rating disagreement around the song's true value, before rounding to the 9-point scale."""

DYNAMIC_RATE_HZ = 2.0
DYNAMIC_LAG_S = 1.5
"""Time constant of the annotators' reaction lag (exponential smoothing of the true trace)."""
DYNAMIC_DRIFT_SD = 0.06
DYNAMIC_DRIFT_CORR = 0.9
DYNAMIC_OFFSET_SD = 0.08


def sample_cues(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` rows of planted cue values, seeded: an optimised Latin hypercube (every range is
    covered evenly and the cues are nearly uncorrelated even for small ``n``)."""
    if n < 1:
        raise ValueError(f"need at least one track to sample cues for, got n={n}")
    cues = CUES + TRAJECTORY_CUES
    unit = qmc.LatinHypercube(d=len(cues), rng=rng, optimization="random-cd").random(n)
    table = pd.DataFrame(
        {c.name: c.low + unit[:, i] * (c.high - c.low) for i, c in enumerate(cues)}
    )
    for c in cues:
        if c.binary:
            table[c.name] = np.where(table[c.name] >= c.mean, c.high, c.low).astype(int)
    return table


def standardise(cues: pd.DataFrame) -> pd.DataFrame:
    """z-scores of the static cues under their sampling distributions (binary cues: ±1)."""
    return pd.DataFrame({c.name: (cues[c.name] - c.mean) / c.std for c in CUES}, index=cues.index)


def _model(z: pd.DataFrame, weights: dict[str, float]) -> pd.Series:
    norm = np.sqrt(sum(w * w for w in weights.values()))
    score = sum(w * z[name] for name, w in weights.items()) / norm
    return (LABEL_CENTRE + LABEL_SPREAD * score).clip(1.0, 9.0)


def true_emotion(cues: pd.DataFrame) -> pd.DataFrame:
    """Noiseless ``valence_true`` / ``arousal_true`` on the 1–9 scale, one row per cue row."""
    z = standardise(cues)
    return pd.DataFrame(
        {"valence_true": _model(z, VALENCE_WEIGHTS), "arousal_true": _model(z, AROUSAL_WEIGHTS)},
        index=cues.index,
    )


def listener_ratings(true_value: float, rng: np.random.Generator) -> np.ndarray:
    """Integer 1–9 ratings of one song by 5–10 simulated listeners."""
    n = rng.integers(LISTENERS_PER_SONG[0], LISTENERS_PER_SONG[1] + 1)
    raw = true_value + rng.normal(0.0, LISTENER_BIAS_SD, n) + rng.normal(0.0, LISTENER_NOISE_SD, n)
    return np.clip(np.rint(raw), 1, 9)


def cue_trajectories(cues: pd.Series, times_s: np.ndarray, clip_seconds: float) -> pd.DataFrame:
    """Static cues evaluated at ``times_s``: loudness and density ramp linearly over the clip."""
    progress = np.asarray(times_s) / clip_seconds - 0.5
    frame = pd.DataFrame({c.name: np.full(len(progress), cues[c.name]) for c in CUES})
    frame["loudness_db"] = cues["loudness_db"] + cues["loudness_slope_db"] * progress
    frame["density"] = cues["density"] + cues["density_slope"] * progress
    return frame


def dynamic_trace(
    cues: pd.Series,
    times_s: np.ndarray,
    clip_seconds: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Annotated (valence, arousal) at ``times_s`` (2 Hz), on DEAM's dynamic [-1, 1] scale.

    The true per-frame emotion (the model on the cue trajectories) is smoothed by the annotators'
    reaction lag, then shifted by a per-song offset and an AR(1) drift.
    """
    emotion = true_emotion(cue_trajectories(cues, times_s, clip_seconds))
    alpha = 1.0 - np.exp(-1.0 / (DYNAMIC_RATE_HZ * DYNAMIC_LAG_S))
    traces = []
    for column in ("valence_true", "arousal_true"):
        target = (emotion[column].to_numpy() - LABEL_CENTRE) / 4.0
        lagged, _ = lfilter([alpha], [1.0, alpha - 1.0], target, zi=[(1.0 - alpha) * target[0]])
        innovations = rng.normal(
            0.0, DYNAMIC_DRIFT_SD * np.sqrt(1 - DYNAMIC_DRIFT_CORR**2), len(target)
        )
        drift = lfilter([1.0], [1.0, -DYNAMIC_DRIFT_CORR], innovations)
        offset = rng.normal(0.0, DYNAMIC_OFFSET_SD)
        traces.append(np.clip(lagged + drift + offset, -1.0, 1.0))
    return traces[0], traces[1]
