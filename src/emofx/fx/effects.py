"""The effect registry: level (1–10) → fully resolved parameters → pedalboard plugins.

Every parameter that depends on the level is linear in it (``value = intercept + slope·L``), as in
the seed paper; every other parameter is a fixed value or pedalboard's default, and all of them are
recorded in the resolved parameters so that a condition says exactly what was rendered.
Parameters are plain numbers, never sample counts or cutoffs tied to one sample rate: plugins are
built from them at the sample rate of the audio being rendered.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pedalboard

LEVELS = range(1, 11)
Params = dict[str, float]


def check_level(level: int) -> int:
    """Return ``level`` or raise ``ValueError`` naming it when it lies outside 1–10."""
    if isinstance(level, bool) or not isinstance(level, int):
        raise ValueError(f"level {level!r} is not an integer")
    if level not in LEVELS:
        raise ValueError(f"level {level} outside {LEVELS.start}-{LEVELS.stop - 1}")
    return level


def _clean_number(value: float) -> float:
    """Round away float noise (``0.1 + 0.08·7``, pedalboard's float32 defaults) for stable ids."""
    return round(float(value), 6)


@dataclass(frozen=True)
class Effect(ABC):
    """One named effect: its level mapping, fixed settings and how to build it."""

    name: str
    linear: Mapping[str, tuple[float, float]]
    """Level-dependent parameters: ``name → (intercept, slope)``, value = intercept + slope·L."""
    fixed: Mapping[str, float] = field(default_factory=dict)
    """Settings that differ from the plugin default but do not depend on the level."""
    summary: str = ""

    @property
    @abstractmethod
    def implementation(self) -> str:
        """What renders it, for listings (``pedalboard.Reverb``)."""

    @abstractmethod
    def defaults(self) -> Params:
        """Every settable parameter at its default value."""

    @abstractmethod
    def check_value(self, name: str, value: float) -> None:
        """Raise ``ValueError`` when ``value`` is not allowed for parameter ``name``."""

    @abstractmethod
    def build(self, params: Mapping[str, float], sample_rate: float) -> list[pedalboard.Plugin]:
        """Fresh plugins for ``params`` at ``sample_rate`` (never shared between renders)."""

    def finish(self, audio: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
        """Post-processing after the plugins have run (none by default)."""
        return audio

    def at_level(self, level: int) -> Params:
        """The level-dependent parameters at ``level``."""
        check_level(level)
        return {k: _clean_number(a + b * level) for k, (a, b) in self.linear.items()}

    def resolve(self, level: int | None = None, overrides: Mapping[str, float] = ()) -> Params:
        """Fully resolved parameters: defaults ← fixed ← level mapping ← explicit overrides.

        Raises ``ValueError`` naming the parameter when an override is unknown or out of range.
        """
        params = self.defaults() | dict(self.fixed)
        if level is not None:
            params |= self.at_level(level)
        for name, value in dict(overrides).items():
            if name not in params:
                raise ValueError(
                    f"unknown parameter {name!r} for effect {self.name!r} "
                    f"(known: {', '.join(sorted(params))})"
                )
            self.check_value(name, value)
            params[name] = _clean_number(value)
        return params


@dataclass(frozen=True)
class PluginEffect(Effect):
    """An effect that is one pedalboard plugin class, constructed with the resolved parameters."""

    plugin: type[pedalboard.Plugin] = field(kw_only=True)

    @property
    def implementation(self) -> str:
        return f"pedalboard.{self.plugin.__name__}"

    def defaults(self) -> Params:
        # pybind11 keeps the signature only in the docstring ("room_size: float = 0.5, ...")
        names = re.findall(r"(\w+): float =", self.plugin.__init__.__doc__ or "")
        instance = self.plugin()
        return {n: _clean_number(getattr(instance, n)) for n in names}

    def check_value(self, name: str, value: float) -> None:
        if isinstance(value, bool) or not np.isfinite(value):
            raise ValueError(f"{self.name}.{name}={value!r}: expected a finite number")
        try:
            self.plugin(**{name: value})
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{self.name}.{name}={value!r}: {exc}") from exc

    def build(self, params: Mapping[str, float], sample_rate: float) -> list[pedalboard.Plugin]:
        return [self.plugin(**params)]


@dataclass(frozen=True)
class BandPass(Effect):
    """The paper's "EQ": high-pass then low-pass, the low-pass placed below the real Nyquist.

    ``lowpass_below_nyquist_hz`` is stored instead of a cutoff, so the cutoff follows the
    sample rate of the audio (sr/2 − value) instead of one file's original rate.
    """

    @property
    def implementation(self) -> str:
        return "pedalboard.HighpassFilter → pedalboard.LowpassFilter → peak normalisation"

    def defaults(self) -> Params:
        return {"highpass_hz": 50.0, "lowpass_below_nyquist_hz": 50.0, "normalise_peak": 1.0}

    def check_value(self, name: str, value: float) -> None:
        if name == "normalise_peak":
            if isinstance(value, bool) or not 0 <= value < np.inf:
                raise ValueError(f"{self.name}.{name}={value!r}: expected a peak ≥ 0 (0: off)")
        elif isinstance(value, bool) or not 0 < value < np.inf:
            raise ValueError(f"{self.name}.{name}={value!r}: expected a positive number of Hz")

    def cutoffs(self, params: Mapping[str, float], sample_rate: float) -> tuple[float, float]:
        """(high-pass, low-pass) cutoffs at ``sample_rate``; ``ValueError`` if no band is left."""
        nyquist = sample_rate / 2
        highpass = float(params["highpass_hz"])
        lowpass = nyquist - float(params["lowpass_below_nyquist_hz"])
        if not 0 < highpass < lowpass < nyquist:
            raise ValueError(
                f"{self.name}: empty pass band at {sample_rate:g} Hz: high-pass {highpass:g} Hz, "
                f"low-pass {lowpass:g} Hz (Nyquist {nyquist:g} Hz − "
                f"{float(params['lowpass_below_nyquist_hz']):g} Hz); use a lower level"
            )
        return highpass, lowpass

    def build(self, params: Mapping[str, float], sample_rate: float) -> list[pedalboard.Plugin]:
        highpass, lowpass = self.cutoffs(params, sample_rate)
        return [
            pedalboard.HighpassFilter(cutoff_frequency_hz=highpass),
            pedalboard.LowpassFilter(cutoff_frequency_hz=lowpass),
        ]

    def finish(self, audio: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
        target = float(params["normalise_peak"])
        peak = float(np.max(np.abs(audio), initial=0.0))
        return audio * np.float32(target / peak) if target and peak else audio


EFFECTS: dict[str, Effect] = {
    e.name: e
    for e in [
        # The seed paper's six effects (its table, verbatim).
        PluginEffect(
            "reverb",
            {"room_size": (0.1, 0.08)},
            {"wet_level": 1.0},
            "room size",
            plugin=pedalboard.Reverb,
        ),
        PluginEffect(
            "delay",
            {"delay_seconds": (0.05, 0.027), "feedback": (0.1, 0.05)},
            {"mix": 0.5},
            "echo time and feedback",
            plugin=pedalboard.Delay,
        ),
        PluginEffect(
            "distortion", {"drive_db": (5.0, 1.8)}, {}, "tanh drive", plugin=pedalboard.Distortion
        ),
        BandPass(
            "eq",
            {"highpass_hz": (100.0, 400.0), "lowpass_below_nyquist_hz": (0.0, 600.0)},
            {"normalise_peak": 1.0},
            "band-pass narrowing from both ends, then peak-normalised to 1",
        ),
        PluginEffect(
            "chorus",
            {"rate_hz": (0.5, 0.2), "depth": (0.1, 0.09), "feedback": (0.1, 0.02)},
            {"mix": 0.5},
            "modulation rate, depth and feedback",
            plugin=pedalboard.Chorus,
        ),
        PluginEffect(
            "phaser",
            {"rate_hz": (0.2, 0.1), "depth": (0.2, 0.14), "feedback": (0.1, 0.03)},
            {"mix": 1.0},
            "modulation rate, depth and feedback (depth > 1 above level 5, as in the paper)",
            plugin=pedalboard.Phaser,
        ),
        # emofx additions.
        PluginEffect(
            "compressor",
            {"threshold_db": (0.0, -4.0), "ratio": (1.0, 0.9)},
            {},
            "dynamic range: threshold −4·L dB, ratio 1 + 0.9·L",
            plugin=pedalboard.Compressor,
        ),
        PluginEffect(
            "bitcrush",
            {"bit_depth": (16.0, -1.2)},
            {},
            "bit depth 16 − 1.2·L",
            plugin=pedalboard.Bitcrush,
        ),
        PluginEffect(
            "pitch_shift",
            {"semitones": (0.0, 1.0)},
            {},
            "L semitones up",
            plugin=pedalboard.PitchShift,
        ),
        PluginEffect(
            "gain", {"gain_db": (0.0, 1.5)}, {}, "1.5·L dB louder", plugin=pedalboard.Gain
        ),
        PluginEffect(
            "clipping",
            {"threshold_db": (0.0, -2.4)},
            {},
            "hard clip at −2.4·L dBFS",
            plugin=pedalboard.Clipping,
        ),
        PluginEffect(
            "mp3",
            {"vbr_quality": (0.0, 0.9)},
            {},
            "LAME VBR quality 0.9·L (0 best, 10 worst)",
            plugin=pedalboard.MP3Compressor,
        ),
    ]
}


def get_effect(name: str) -> Effect:
    """The registered effect ``name``; ``ValueError`` listing the known ones otherwise."""
    try:
        return EFFECTS[name]
    except KeyError:
        raise ValueError(f"unknown effect {name!r} (known: {', '.join(EFFECTS)})") from None
