"""Gain staging before the effects, and how much of an effect is more than a gain.

An effect's amount depends on the level it is fed: a distortion drive of 19 dB saturates a
full-scale clip but only amplifies one that peaks at −20 dBFS. ``fx.input_level`` brings every
clip to one reference level before any condition (``clean`` included) renders it:

- ``none``: the prepared audio as decoded;
- ``peak:<dB>dBFS``: scale so the largest sample magnitude is ``<dB>`` dBFS (sample peak);
- ``lufs:<dB>``: scale to ``<dB>`` LUFS integrated loudness (ITU-R BS.1770-4, :mod:`.loudness`).

Silence is left as it is (no gain reaches a level from nothing).
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

import numpy as np

LEVEL_PATTERN = re.compile(
    r"^(?:none|peak:(?P<peak>-?\d+(?:\.\d+)?)dBFS|lufs:(?P<lufs>-\d+(?:\.\d+)?))$"
)
DEFAULT_INPUT_LEVEL = "none"
"""Per-clip normalisation also removes loudness as an emotion cue from ``clean``: opt in per
dataset (docs/fx.md, "Gain staging before the effects")."""


class InputLevel(NamedTuple):
    """A parsed ``fx.input_level``."""

    kind: Literal["none", "peak", "lufs"]
    target_db: float = 0.0


def parse_input_level(spec: str) -> InputLevel:
    """``none`` | ``peak:-1dBFS`` | ``lufs:-14``; ``ValueError`` naming the spec otherwise."""
    m = LEVEL_PATTERN.match(spec)
    if not m:
        raise ValueError(
            f"input_level {spec!r}: expected none, peak:<dB ≤ 0>dBFS (e.g. peak:-1dBFS) "
            "or lufs:<negative dB> (e.g. lufs:-14)"
        )
    if m["peak"] is not None:
        target = float(m["peak"])
        if target > 0:
            raise ValueError(f"input_level {spec!r}: a sample peak above 0 dBFS is out of range")
        return InputLevel("peak", target)
    if m["lufs"] is not None:
        return InputLevel("lufs", float(m["lufs"]))
    return InputLevel("none")


def input_gain_db(spec: str, audio: np.ndarray, loudness_lufs: float) -> float:
    """The gain (dB) that brings ``audio`` (of integrated loudness ``loudness_lufs``) to ``spec``.

    0 for ``none`` and for silence; NaN for a loudness target on audio too short to measure
    (< 400 ms, no BS.1770 loudness).
    """
    level = parse_input_level(spec)
    if level.kind == "peak":
        peak = float(np.max(np.abs(audio)))
        return level.target_db - 20 * np.log10(peak) if peak > 0 else 0.0
    if level.kind == "lufs":
        if loudness_lufs == float("-inf"):
            return 0.0
        return level.target_db - loudness_lufs
    return 0.0


def nonlinear_share(dry: np.ndarray, wet: np.ndarray) -> float:
    """Share of ``wet``'s energy that no scalar gain of ``dry`` explains, in [0, 1].

    ``‖wet − g·dry‖² / ‖wet‖²`` with the least-squares scalar gain ``g = ⟨dry, wet⟩ / ‖dry‖²``.
    A pure gain gives 0; anything that changes the waveform's shape gives more: saturation, but
    also filters, delays and reverbs, which are linear yet not a gain (the fit is one scalar,
    not a filter). ``dry`` is zero-padded
    to a longer ``wet`` (kept tails count as non-gain energy). NaN for silent ``wet``.
    """
    dry = np.asarray(dry, dtype=np.float64)
    wet = np.asarray(wet, dtype=np.float64)
    if wet.shape[-1] > dry.shape[-1]:
        pad = [(0, 0)] * (dry.ndim - 1) + [(0, wet.shape[-1] - dry.shape[-1])]
        dry = np.pad(dry, pad)
    wet_energy = float(np.vdot(wet, wet))
    if wet_energy == 0:
        return float("nan")
    dry_energy = float(np.vdot(dry, dry))
    if dry_energy == 0:
        return 1.0
    explained = float(np.vdot(dry, wet)) ** 2 / dry_energy
    return float(np.clip(1.0 - explained / wet_energy, 0.0, 1.0))
