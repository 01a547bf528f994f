"""The renderer: score → stereo (or mono) audio whose level and brightness follow the cues.

Signal chain: notes → per-part voices with envelopes → constant-power panning → optional mono
downmix → brightness low-pass (2nd-order Butterworth, 700 Hz … 12.6 kHz) → a touch of room
(pedalboard reverb) → RMS normalisation → the loudness cue as a gain ramp (crescendo/diminuendo
around the clip-midpoint level) → tanh soft clipping of the rare peaks above 0.7. Normalising
before the gain makes the measured level depend on the loudness cue alone, not on density or
timbre.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pedalboard import Pedalboard, Reverb
from scipy.signal import butter, sosfilt

from emofx.datasets.synth.compose import Part, Score
from emofx.datasets.synth.timbres import PITCHED_VOICES, drum_kit

PART_GAIN = {"melody": 0.35, "chords": 0.16, "bass": 0.4, "drums": 0.5}
PART_PAN = {"melody": -0.25, "chords": 0.0, "bass": 0.0, "drums": 0.15}
"""Pan positions in [-1 (left), 1 (right)]; chord tones alternate ±0.5 around theirs."""
ATTACK_S, RELEASE_S = 0.005, 0.06
SOFT_CLIP_KNEE = 0.7
DECAY_PER_S = {"additive": 1.5, "fm": 3.0, "pluck": 0.0}
"""Exponential decay of the sustain (pluck decays by itself)."""


def brightness_cutoff_hz(brightness: float) -> float:
    return 700.0 * 2.0 ** (4.17 * brightness)


def render(
    score: Score,
    cues: Mapping[str, float],
    timbres: Mapping[str, str],
    *,
    channels: int,
    sample_rate: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``[channels, samples]`` float32 audio of ``score`` played with the given part timbres."""
    n = int(round(score.clip_seconds * sample_rate))
    mix = np.zeros((2, n + int(sample_rate)), dtype=np.float32)  # 1 s tail, trimmed below
    for name, part in score.parts.items():
        if name == "drums":
            mono = _render_drums(part, mix.shape[1], sample_rate, rng)
            _add_panned(mix, mono, PART_PAN[name], PART_GAIN[name])
        else:
            spread = 0.5 if name == "chords" else 0.0
            for i, (onset, wave) in enumerate(
                _render_notes(part, timbres[name], cues["brightness"], sample_rate, rng)
            ):
                pan = PART_PAN[name] + (spread if i % 2 else -spread)
                start = int(round(onset * sample_rate))
                end = min(start + len(wave), mix.shape[1])
                _add_panned(mix[:, start:end], wave[: end - start], pan, PART_GAIN[name])
    mix = mix[:, :n]
    if channels == 1:
        mix = mix.mean(axis=0, keepdims=True)
    sos = butter(2, brightness_cutoff_hz(cues["brightness"]), output="sos", fs=sample_rate)
    mix = sosfilt(sos, mix, axis=1).astype(np.float32)
    mix = Pedalboard([Reverb(room_size=0.25, damping=0.5, wet_level=0.12, dry_level=0.9)])(
        mix, sample_rate
    )
    mix = mix / max(float(np.sqrt(np.mean(mix**2))), 1e-9)
    progress = np.arange(n) / n - 0.5
    gain_db = cues["loudness_db"] + cues["loudness_slope_db"] * progress
    mix = (mix * 10.0 ** (gain_db / 20.0)).astype(np.float32)
    return _soft_clip(mix)


def _render_notes(
    part: Part, timbre: str, brightness: float, sample_rate: int, rng: np.random.Generator
):
    voice = PITCHED_VOICES[timbre]
    release = int(RELEASE_S * sample_rate)
    for onset, duration, pitch, velocity in zip(
        part.onset_s, part.duration_s, part.pitch, part.velocity, strict=True
    ):
        held = max(int(duration * sample_rate), 1)
        freq = 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)
        wave = voice(freq, held + release, sample_rate, brightness, rng)
        yield onset, wave * _envelope(held, release, DECAY_PER_S[timbre], sample_rate) * velocity


def _envelope(held: int, release: int, decay_per_s: float, sample_rate: int) -> np.ndarray:
    t = np.arange(held + release, dtype=np.float32) / np.float32(sample_rate)
    env = np.minimum(t / np.float32(ATTACK_S), np.float32(1.0))
    if decay_per_s:
        env *= np.exp(np.float32(-decay_per_s) * t)
    env[held:] *= np.linspace(1.0, 0.0, release, dtype=np.float32)
    return env


def _render_drums(part: Part, n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    kit = drum_kit(sample_rate, rng)
    out = np.zeros(n, dtype=np.float32)
    for onset, number, velocity in zip(part.onset_s, part.pitch, part.velocity, strict=True):
        hit = kit[int(number)]
        start = int(round(onset * sample_rate))
        end = min(start + len(hit), n)
        out[start:end] += velocity * hit[: end - start]
    return out


def _soft_clip(audio: np.ndarray) -> np.ndarray:
    """Identity below the knee, a tanh curve from the knee to full scale (no hard clipping)."""
    over = np.abs(audio) > SOFT_CLIP_KNEE
    excess = (np.abs(audio[over]) - SOFT_CLIP_KNEE) / (1.0 - SOFT_CLIP_KNEE)
    out = audio.copy()
    out[over] = np.sign(audio[over]) * (SOFT_CLIP_KNEE + (1.0 - SOFT_CLIP_KNEE) * np.tanh(excess))
    return out


def _add_panned(target: np.ndarray, mono: np.ndarray, pan: float, gain: float) -> None:
    angle = (np.clip(pan, -1.0, 1.0) + 1.0) * np.pi / 4
    target += np.array([[gain * np.cos(angle)], [gain * np.sin(angle)]], dtype=np.float32) * mono
