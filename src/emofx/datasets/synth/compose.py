"""The composer: planted cues → a four-part score (melody, chords, bass, drums) as note arrays.

The same score feeds the audio renderer (DEAM layout) and the MIDI writer (EMOPIA layout). Cues act
on the notes as follows: tempo sets the beat, mode picks the scale (the chord progression is the
same sequence of scale degrees in both modes, so mode is the only harmonic difference), register
centres the melody, articulation shortens notes (gate), dissonance adds cluster/tritone tones,
chromatic melody notes and detuning, and rhythmic density sets the melody's and hi-hats' onset
probabilities on a 16th-note grid (ramping over the clip with ``density_slope``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

MAJOR_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])
MINOR_SCALE = np.array([0, 2, 3, 5, 7, 8, 10])
PROGRESSIONS = ((0, 4, 5, 3), (0, 3, 4, 0), (5, 3, 0, 4), (0, 5, 3, 4), (1, 4, 0, 0))
"""Four-bar progressions as 0-based scale degrees (I–V–vi–IV, I–IV–V–I, vi–IV–I–V, …)."""
BEATS_PER_BAR = 4
STEPS_PER_BEAT = 4
METRIC_WEIGHT = np.array([1.0, 0.35, 0.7, 0.35])
"""Relative onset probability of the four 16th positions of a beat (strong to weak)."""
CHORD_LOW, BASS_LOW = 55, 36
"""Chord tones are voiced in [55, 67), bass roots in [36, 48)."""
KICK, SNARE, HIHAT = 36, 38, 42
"""General MIDI drum numbers; the drums part stores them as its pitches."""


@dataclass(frozen=True)
class Part:
    """One voice of a score; arrays of equal length, one entry per note."""

    name: str
    onset_s: np.ndarray
    duration_s: np.ndarray
    pitch: np.ndarray
    """MIDI pitch, fractional where detuned (drums: GM drum number)."""
    velocity: np.ndarray
    """0–1."""


@dataclass(frozen=True)
class Score:
    tempo_bpm: float
    clip_seconds: float
    parts: dict[str, Part]


class _PartBuilder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.rows: list[tuple[float, float, float, float]] = []

    def add(self, onset: float, duration: float, pitch: float, velocity: float) -> None:
        self.rows.append((onset, duration, pitch, velocity))

    def build(self, clip_seconds: float) -> Part:
        rows = np.array(self.rows, dtype=float).reshape(-1, 4)
        rows = rows[rows[:, 0] < clip_seconds]
        duration = np.minimum(rows[:, 1], clip_seconds - rows[:, 0])
        return Part(self.name, rows[:, 0], duration, rows[:, 2], rows[:, 3])


def local_density(cues: Mapping[str, float], time_s: float, clip_seconds: float) -> float:
    """Rhythmic density at ``time_s`` (the cue is the clip midpoint; it ramps by its slope)."""
    value = cues["density"] + cues["density_slope"] * (time_s / clip_seconds - 0.5)
    return float(np.clip(value, 0.0, 1.0))


def compose(
    cues: Mapping[str, float], key: int, clip_seconds: float, rng: np.random.Generator
) -> Score:
    """A score for one clip in the given key (0 = C … 11 = B) from its planted cues."""
    beat = 60.0 / cues["tempo_bpm"]
    step = beat / STEPS_PER_BEAT
    n_beats = int(np.ceil(clip_seconds / beat))
    scale = MAJOR_SCALE if cues["major"] else MINOR_SCALE
    progression = PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    gate = 1.0 - 0.8 * cues["articulation"]
    dissonance = cues["dissonance"]

    chords, bass, melody, drums = (_PartBuilder(n) for n in ("chords", "bass", "melody", "drums"))
    melody_degree = 0
    centre_degree = _degree_near(cues["register"], key, scale)
    for b in range(0, n_beats, BEATS_PER_BAR):
        bar_start = b * beat
        degree = progression[(b // BEATS_PER_BAR) % len(progression)]
        chord = [key + scale[(degree + i) % 7] for i in (0, 2, 4)]
        if rng.random() < dissonance:
            chord.append(chord[0] + (1 if rng.random() < 0.5 else 6))
        chord_len = BEATS_PER_BAR * beat * (1.0 - 0.5 * cues["articulation"])
        for pc in chord:
            detune = rng.uniform(-0.15, 0.15) * dissonance
            chords.add(bar_start, chord_len, CHORD_LOW + (pc - CHORD_LOW) % 12 + detune, 0.55)
        root = BASS_LOW + (chord[0] - BASS_LOW) % 12
        chord_pcs = {pc % 12 for pc in chord[:3]}
        for i in range(BEATS_PER_BAR):
            t = bar_start + i * beat
            dens = local_density(cues, t, clip_seconds)
            if i % 2 == 0 or dens > 0.5:
                span = beat if dens > 0.5 else 2 * beat
                octave = 12 if (i == 3 and rng.random() < dens) else 0
                bass.add(t, span * gate, root + octave, 0.8 if i == 0 else 0.65)
            drums.add(t, 0.2, KICK if i % 2 == 0 else SNARE, 0.9 if i % 2 == 0 else 0.7)
            hat_p = np.clip(METRIC_WEIGHT * (0.2 + 1.3 * dens), 0.0, 1.0)
            onset_p = np.clip(METRIC_WEIGHT * (0.1 + 1.5 * dens), 0.0, 1.0)
            for s in range(STEPS_PER_BEAT):
                ts = t + s * step
                if rng.random() < hat_p[s]:
                    drums.add(ts, 0.05, HIHAT, 0.5 if s % 2 == 0 else 0.35)
                if rng.random() < onset_p[s]:
                    melody_degree = _melody_step(melody_degree, rng)
                    pitch = _degree_pitch(centre_degree + melody_degree, key, scale)
                    if s == 0:
                        pitch = _nearest_chord_tone(pitch, chord_pcs)
                    elif rng.random() < 0.5 * dissonance:
                        pitch += 1 if rng.random() < 0.5 else -1
                    accent = 0.85 if s == 0 else 0.7
                    melody.add(ts, step, pitch, accent + rng.uniform(-0.05, 0.05))
    melody_part = _legato_durations(melody.build(clip_seconds), clip_seconds, gate)
    return Score(
        tempo_bpm=float(cues["tempo_bpm"]),
        clip_seconds=clip_seconds,
        parts={
            "melody": melody_part,
            "chords": chords.build(clip_seconds),
            "bass": bass.build(clip_seconds),
            "drums": drums.build(clip_seconds),
        },
    )


def _degree_pitch(degree: int, key: int, scale: np.ndarray) -> int:
    return 48 + key + 12 * (degree // 7) + int(scale[degree % 7])


def _degree_near(register: float, key: int, scale: np.ndarray) -> int:
    degrees = np.arange(-7, 35)
    pitches = np.array([_degree_pitch(d, key, scale) for d in degrees])
    return int(degrees[np.argmin(np.abs(pitches - register))])


def _melody_step(degree: int, rng: np.random.Generator) -> int:
    """Random walk over scale degrees that drifts back towards the register centre."""
    pull = -np.sign(degree) if abs(degree) > 4 else 0
    return degree + int(rng.choice([-2, -1, -1, 0, 1, 1, 2])) + int(pull)


def _nearest_chord_tone(pitch: int, chord_pcs: set[int]) -> int:
    for delta in (0, -1, 1, -2, 2):
        if (pitch + delta) % 12 in chord_pcs:
            return pitch + delta
    return pitch


def _legato_durations(part: Part, clip_seconds: float, gate: float) -> Part:
    """Each melody note lasts ``gate`` × the time to the next onset (legato = 1)."""
    following = np.append(part.onset_s[1:], clip_seconds)
    duration = np.maximum(gate * (following - part.onset_s), 0.03)
    return Part(part.name, part.onset_s, duration, part.pitch, part.velocity)
