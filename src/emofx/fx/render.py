"""Render a condition on audio, at the sample rate of that audio.

Thread-safe and deterministic: every call builds fresh pedalboard plugins from the condition's
parameters (plugins keep state and never cross threads), and pedalboard releases the GIL while it
processes, so a thread pool over clips scales with the cores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pedalboard

from emofx.audio import audio_info, load_audio, write_audio
from emofx.errors import EmofxError
from emofx.fx.conditions import Condition, Step, resolve_condition
from emofx.fx.config import FxParams
from emofx.fx.effects import get_effect
from emofx.fx.levels import input_gain_db, nonlinear_share
from emofx.fx.loudness import integrated_loudness


class RenderError(EmofxError, ValueError):
    """A condition that cannot be rendered on this audio; the message names the condition."""


@dataclass(frozen=True)
class Rendered:
    audio: np.ndarray
    """float32, the input's shape (or longer by the condition's tail)."""
    loudness_in_lufs: float
    """Of the input after gain staging (``fx.input_level``): what ``clean`` renders to."""
    loudness_out_lufs: float
    nonlinear_share: float = 0.0
    """Share of the output's energy no scalar gain of the (staged) input explains
    (:func:`emofx.fx.levels.nonlinear_share`); 0 for ``clean``."""

    @property
    def loudness_change_lu(self) -> float:
        return self.loudness_out_lufs - self.loudness_in_lufs


def render(
    condition: Condition,
    audio: np.ndarray,
    sample_rate: float,
    *,
    loudness_in_lufs: float | None = None,
) -> Rendered:
    """Apply ``condition`` to mono ``[samples]`` or ``[channels, samples]`` float audio.

    The input is first brought to the condition's ``input_level`` (``clean`` included); the
    output has the input's length unless the condition keeps tails. ``clean`` without gain
    staging returns the input itself. Pass ``loudness_in_lufs`` (of the audio as given) when the
    same clip is rendered under many conditions to measure its loudness once. A ``+lufs``
    condition scales the output to the staged input's integrated loudness (BS.1770); its output
    may then peak above 1.0 (float, not clipped).
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim not in (1, 2) or audio.shape[-1] == 0:
        raise RenderError(
            f"{condition.id}: expected non-empty [samples] or [channels, samples] audio, "
            f"got shape {audio.shape}"
        )
    if loudness_in_lufs is None:
        loudness_in_lufs = integrated_loudness(audio, sample_rate)
    staging_db = input_gain_db(condition.input_level, audio, loudness_in_lufs)
    if not np.isfinite(staging_db):
        raise RenderError(
            f"{condition.id}: cannot bring the input to {condition.input_level} (shorter than "
            "the 0.4 s BS.1770 block)"
        )
    if staging_db:
        audio = audio * np.float32(10 ** (staging_db / 20))
        loudness_in_lufs += staging_db  # loudness is linear in gain: no second measurement
    if condition.kind == "clean":
        return Rendered(audio, loudness_in_lufs, loudness_in_lufs)
    out = audio
    if condition.tail_s:
        tail = np.zeros((*audio.shape[:-1], int(round(condition.tail_s * sample_rate))), np.float32)
        out = np.concatenate([audio, tail], axis=-1)
    try:
        for step in condition.steps:
            out = _apply(step, out, sample_rate)
    except (ValueError, TypeError, RuntimeError, OSError, ImportError) as exc:
        raise RenderError(f"{condition.id} at {sample_rate:g} Hz: {exc}") from exc
    loudness_out_lufs = integrated_loudness(out, sample_rate)
    if condition.loudness_match and loudness_in_lufs != loudness_out_lufs:  # -inf == -inf: silence
        gain_db = loudness_in_lufs - loudness_out_lufs
        if not np.isfinite(gain_db):
            raise RenderError(
                f"{condition.id}: cannot match loudness {loudness_out_lufs} LUFS to "
                f"{loudness_in_lufs} LUFS (silence, or shorter than the 0.4 s BS.1770 block)"
            )
        out = out * np.float32(10 ** (gain_db / 20))
        loudness_out_lufs += gain_db  # loudness is linear in gain: no second measurement
    return Rendered(out, loudness_in_lufs, loudness_out_lufs, nonlinear_share(audio, out))


def _apply(step: Step, audio: np.ndarray, sample_rate: float) -> np.ndarray:
    if step.plugin is not None:
        plugins = [_load_plugin(step.plugin.path, step.plugin.plugin_name, step.params)]
        return pedalboard.Pedalboard(plugins)(audio, sample_rate)
    effect = get_effect(step.effect)
    out = pedalboard.Pedalboard(effect.build(step.params, sample_rate))(audio, sample_rate)
    return effect.finish(out, step.params)


def _load_plugin(
    path: str, plugin_name: str | None, params: Mapping[str, float | bool | str]
) -> pedalboard.Plugin:
    if not Path(path).exists():
        raise FileNotFoundError(f"plugin file not found: {path}")
    return pedalboard.load_plugin(path, parameter_values=dict(params), plugin_name=plugin_name)


def unrenderable(conditions: list[Condition], sample_rate: float) -> dict[str, str]:
    """``{condition id: reason}`` for every condition that cannot render at ``sample_rate`` (an
    ``eq`` band that closes below this Nyquist, a rate the MP3 encoder lacks, a missing plugin).
    Renders one second of noise per condition: call it before a long run."""
    probe = np.random.default_rng(0).uniform(-0.5, 0.5, int(sample_rate)).astype(np.float32)
    problems = {}
    for condition in conditions:
        try:
            render(condition, probe, sample_rate)
        except RenderError as exc:
            problems[condition.id] = str(exc)
    return problems


def check_renderable(conditions: list[Condition], sample_rate: float) -> None:
    """Raise one ``RenderError`` listing every condition of :func:`unrenderable`."""
    problems = unrenderable(conditions, sample_rate)
    if problems:
        raise RenderError("\n".join(problems.values()))


def render_file(
    condition: Condition | str,
    in_path: str | Path,
    out_path: str | Path,
    *,
    params: FxParams | None = None,
    sample_rate: int | None = None,
    force: bool = False,
) -> Rendered:
    """Render an audio file for listening, all channels, at ``sample_rate`` (default: the
    file's own rate). ``condition`` may be an id, resolved with ``params`` (needed for user chains
    and plugins). The output format follows ``out_path``'s extension. ``out_path`` may be the
    input file itself (also through another path or a link) only with ``force``."""
    if not force and Path(out_path).exists() and Path(out_path).samefile(in_path):
        raise RenderError(
            f"output {out_path} is the input file {in_path}; give another output or --force"
        )
    if isinstance(condition, str):
        condition = resolve_condition(condition, params)
    sample_rate = sample_rate or audio_info(in_path).sample_rate
    rendered = render(condition, load_audio(in_path, sample_rate, mono=False), sample_rate)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    write_audio(out_path, rendered.audio, sample_rate)
    return rendered
