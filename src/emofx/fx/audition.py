"""Listening material: per condition a few rendered excerpts with log-mel spectrogram PNGs (files
for the caller to log to MLflow), and optional FLAC materialisation of every rendered track.

FLAC is fixed-point (24-bit here): samples beyond ±1.0, which a ``gain`` or ``+lufs`` render can
have in the float pipeline, are clipped in these files only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import librosa
import librosa.display
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from emofx.audio import to_mono, write_audio
from emofx.fx.conditions import Condition
from emofx.fx.loudness import integrated_loudness
from emofx.fx.render import render

SPECTROGRAM_DB_RANGE = (-60.0, 40.0)
"""Fixed colour scale for every image (+40 dB ≈ a full-scale sine), so louder renders look
brighter."""
N_MELS = 128
BIT_DEPTH = 24


def file_stem(item_id: str) -> str:
    """A track or clip id as a portable file name stem."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", item_id)


def middle_excerpt(audio: np.ndarray, sample_rate: float, seconds: float) -> np.ndarray:
    """The middle ``seconds`` of ``audio`` (all of it when shorter)."""
    n = int(round(seconds * sample_rate))
    start = max((audio.shape[-1] - n) // 2, 0)
    return audio[..., start : start + n]


def save_log_mel_png(audio: np.ndarray, sample_rate: float, path: Path, title: str) -> None:
    """Log-mel spectrogram image of ``audio`` (channels averaged)."""
    mel = librosa.feature.melspectrogram(y=to_mono(audio), sr=sample_rate, n_mels=N_MELS)
    db = librosa.power_to_db(mel, ref=1.0, top_db=None)
    fig = Figure(figsize=(7, 3))
    FigureCanvasAgg(fig)  # pyplot-free: no global state
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.17, top=0.9)
    ax = fig.add_subplot()
    vmin, vmax = SPECTROGRAM_DB_RANGE
    image = librosa.display.specshow(
        db, sr=sample_rate, x_axis="time", y_axis="mel", ax=ax, vmin=vmin, vmax=vmax, cmap="magma"
    )
    fig.colorbar(image, ax=ax, format="%+.0f dB")
    ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=100)


def write_audition(
    conditions: Sequence[Condition],
    clips: Mapping[str, np.ndarray],
    sample_rate: float,
    out_dir: str | Path,
    *,
    excerpt_s: float = 5.0,
) -> list[Path]:
    """For every condition × clip: ``<out_dir>/<condition slug>/<clip>.flac`` (the middle
    ``excerpt_s`` of the rendered clip) and ``.png`` (its log-mel spectrogram), plus
    ``<out_dir>/loudness.csv`` (one row per pair). Returns the written paths."""
    out_dir = Path(out_dir)
    written, rows = [], []
    for condition in conditions:
        folder = out_dir / condition.slug
        folder.mkdir(parents=True, exist_ok=True)
        for clip_id, audio in clips.items():
            rendered = render(condition, audio, sample_rate)
            excerpt = middle_excerpt(rendered.audio, sample_rate, excerpt_s)
            stem = folder / file_stem(clip_id)
            write_audio(stem.with_suffix(".flac"), excerpt, sample_rate, bit_depth=BIT_DEPTH)
            title = f"{condition.id} · {clip_id} · {rendered.loudness_change_lu:+.1f} LU"
            save_log_mel_png(excerpt, sample_rate, stem.with_suffix(".png"), title)
            written += [stem.with_suffix(".flac"), stem.with_suffix(".png")]
            rows.append(
                {
                    "condition": condition.id,
                    "clip": clip_id,
                    "loudness_in_lufs": rendered.loudness_in_lufs,
                    "loudness_out_lufs": rendered.loudness_out_lufs,
                    "loudness_change_lu": rendered.loudness_change_lu,
                }
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out_dir / "loudness.csv", index=False)
    return [*written, out_dir / "loudness.csv"]


def materialise(
    conditions: Sequence[Condition],
    tracks: Iterable[tuple[str, np.ndarray]],
    sample_rate: float,
    out_dir: str | Path,
    *,
    workers: int | None = None,
) -> list[Path]:
    """Write every rendered (track, condition) as ``<out_dir>/<condition slug>/<track>.flac``,
    the conditions of a track rendered in parallel threads. Returns the written paths."""
    out_dir = Path(out_dir)
    for condition in conditions:
        (out_dir / condition.slug).mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with ThreadPoolExecutor(workers) as pool:
        for track_id, audio in tracks:
            paths = [out_dir / c.slug / f"{file_stem(track_id)}.flac" for c in conditions]
            loudness = integrated_loudness(audio, sample_rate)  # once per track, not per condition
            write = partial(
                _render_to_file, audio=audio, sample_rate=sample_rate, loudness=loudness
            )
            written += pool.map(write, conditions, paths)
    return written


def _render_to_file(
    condition: Condition, path: Path, *, audio: np.ndarray, sample_rate: float, loudness: float
) -> Path:
    rendered = render(condition, audio, sample_rate, loudness_in_lufs=loudness)
    write_audio(path, rendered.audio, sample_rate, bit_depth=BIT_DEPTH)
    return path
