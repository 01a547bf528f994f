"""Write the synthetic corpus in DEAM's official on-disk layout, so the DEAM loader reads it.

```
<root>/MEMD_audio/<song_id>.mp3                        44.1 kHz MP3 (LAME), most stereo, some mono
<root>/annotations/annotations averaged per song/song_level/
    static_annotations_averaged_songs_1_2000.csv        "song_id, valence_mean, …" (CRLF, 1–9)
    static_annotations_averaged_songs_2000_2058.csv     header only (DEAM's second static file)
<root>/annotations/annotations averaged per song/dynamic (per second annotations)/
    arousal.csv, valence.csv                            song_id,sample_15000ms,… (2 Hz, [-1, 1])
<root>/synth_cues.csv                                   planted cues + noiseless valence/arousal
```
Dynamic annotations start at 15 s like DEAM's; clips shorter than 20 s start at 500 ms instead.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from emofx.audio import write_audio
from emofx.datasets.synth.compose import compose
from emofx.datasets.synth.cues import (
    CUES,
    TRAJECTORY_CUES,
    dynamic_trace,
    listener_ratings,
    sample_cues,
    true_emotion,
)
from emofx.datasets.synth.render import render
from emofx.datasets.synth.timbres import TIMBRE_CHOICES

AUDIO_DIR = "MEMD_audio"
ANNOTATIONS_DIR = Path("annotations") / "annotations averaged per song"
STATIC_PATH = ANNOTATIONS_DIR / "song_level" / "static_annotations_averaged_songs_1_2000.csv"
STATIC_EXTRA_PATH = (
    ANNOTATIONS_DIR / "song_level" / "static_annotations_averaged_songs_2000_2058.csv"
)
DYNAMIC_DIR = ANNOTATIONS_DIR / "dynamic (per second annotations)"
CUES_FILE = "synth_cues.csv"
#: the only file the synth stage writes when dataset.root is not synth.out (own data)
PLACEHOLDER_FILE = "NOT_GENERATED.txt"

STATIC_HEADER = ["song_id", " valence_mean", " valence_std", " arousal_mean", " arousal_std"]
STATIC_EXTRA_HEADER = (
    "song_id, valence_mean, valence_std, valence_ max_mean, valence_max_std, valence_min_mean,"
    " valence_min_std, arousal_mean, arousal_std, arousal_max_mean, arousal_max_std,"
    " arousal_min_mean, arousal_min_std"
)
"""DEAM's header quirks, verbatim: a space after each comma, one inside ``valence_ max_mean``."""
MAX_SONG_ID = 2000
"""Song ids are 1…n_tracks and must fit the ``1_2000`` static file."""
MP3_SAMPLE_RATES = frozenset({16000, 22050, 24000, 32000, 44100, 48000})
MONO_SHARE = 0.1
MP3_BITRATE_KBPS = 128
DEAM_DYNAMIC_START_MS = 15000
SHORT_CLIP_S = 20.0
SHORT_CLIP_DYNAMIC_START_MS = 500
STATIC_STATS = ((np.mean, 1), (np.std, 2))
"""DEAM's static file: the listeners' mean to 1 decimal, their (population) std to 2 decimals."""


@dataclass(frozen=True)
class _TrackJob:
    path: Path
    cues: dict[str, float]
    timbres: dict[str, str]
    key: int
    channels: int
    clip_seconds: float
    sample_rate: int
    seed: np.random.SeedSequence


def dynamic_times_ms(clip_seconds: float) -> np.ndarray:
    """Annotation instants (ms) at 2 Hz: DEAM's 15 s start, or 500 ms for clips under 20 s."""
    start = DEAM_DYNAMIC_START_MS if clip_seconds >= SHORT_CLIP_S else SHORT_CLIP_DYNAMIC_START_MS
    return np.arange(start, int(clip_seconds * 1000) + 1, 500)


def generate_corpus(
    root: Path,
    *,
    n_tracks: int,
    clip_seconds: float,
    seed: int,
    sample_rate: int = 44100,
    workers: int = 1,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Compose, render and annotate ``n_tracks`` clips under ``root``; returns the cues table.

    Deterministic from ``seed`` whatever ``workers`` is (each track has its own seed stream).
    ``root`` must be empty or absent unless ``overwrite``, which first deletes the corpus files.
    """
    root = Path(root)
    _check_arguments(n_tracks, clip_seconds, sample_rate, workers)
    _prepare_root(root, overwrite)
    cue_seq, audio_seq, label_seq = np.random.SeedSequence(seed).spawn(3)
    table = _plan_tracks(n_tracks, np.random.default_rng(cue_seq))
    jobs = [
        _TrackJob(
            path=root / AUDIO_DIR / f"{row.song_id}.mp3",
            cues={c.name: float(row[c.name]) for c in CUES + TRAJECTORY_CUES},
            timbres={part: row[f"{part}_timbre"] for part in TIMBRE_CHOICES},
            key=int(row.key),
            channels=int(row.channels),
            clip_seconds=clip_seconds,
            sample_rate=sample_rate,
            seed=track_seq,
        )
        for (_, row), track_seq in zip(table.iterrows(), audio_seq.spawn(n_tracks), strict=True)
    ]
    (root / AUDIO_DIR).mkdir(parents=True)
    if workers == 1:
        for job in jobs:
            _render_track(job)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_render_track, jobs, chunksize=max(1, n_tracks // (4 * workers))))
    _write_annotations(root, table, clip_seconds, np.random.default_rng(label_seq))
    table.to_csv(root / CUES_FILE, index=False, lineterminator="\n")
    return table


def write_placeholder(root: Path, dataset_root: Path) -> Path:
    """The synth stage's output when the pipeline runs on another dataset: one note, no corpus.

    Any corpus files under ``root`` are removed first, so the output is the note alone.
    """
    root = Path(root)
    _prepare_root(root, overwrite=True)
    path = root / PLACEHOLDER_FILE
    path.write_text(
        f"No synthetic corpus here: dataset.root is {dataset_root}, not synth.out ({root}).\n"
        f"Set dataset.root: {root} (dataset.format: deam) and the synth stage generates it.\n"
    )
    return path


def _check_arguments(n_tracks: int, clip_seconds: float, sample_rate: int, workers: int) -> None:
    if not 1 <= n_tracks <= MAX_SONG_ID:
        raise ValueError(f"n_tracks must be in [1, {MAX_SONG_ID}], got {n_tracks}")
    if not 1.0 <= clip_seconds <= 600.0:
        raise ValueError(f"clip_seconds must be in [1, 600], got {clip_seconds}")
    if sample_rate not in MP3_SAMPLE_RATES:
        raise ValueError(
            f"sample_rate {sample_rate} cannot be written as MP3; use one of "
            f"{sorted(MP3_SAMPLE_RATES)}"
        )
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")


def _prepare_root(root: Path, overwrite: bool) -> None:
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root}: corpus root exists and is not a directory")
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{root}: corpus root is not empty (pass overwrite=True)")
        for name in (AUDIO_DIR, "annotations"):
            shutil.rmtree(root / name, ignore_errors=True)
        (root / CUES_FILE).unlink(missing_ok=True)
        (root / PLACEHOLDER_FILE).unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)


def _plan_tracks(n_tracks: int, rng: np.random.Generator) -> pd.DataFrame:
    """Per track: song id, planted cues, key, part timbres, channel count, noiseless emotion."""
    cues = sample_cues(n_tracks, rng)
    table = pd.concat([pd.DataFrame({"song_id": np.arange(1, n_tracks + 1)}), cues], axis=1)
    table["key"] = rng.integers(0, 12, n_tracks)
    for part, choices in TIMBRE_CHOICES.items():
        table[f"{part}_timbre"] = rng.choice(choices, n_tracks)
    channels = np.full(n_tracks, 2)
    channels[rng.choice(n_tracks, int(round(MONO_SHARE * n_tracks)), replace=False)] = 1
    table["channels"] = channels
    return pd.concat([table, true_emotion(cues)], axis=1)


def _render_track(job: _TrackJob) -> None:
    rng = np.random.default_rng(job.seed)
    score = compose(job.cues, job.key, job.clip_seconds, rng)
    audio = render(
        score,
        job.cues,
        job.timbres,
        channels=job.channels,
        sample_rate=job.sample_rate,
        rng=rng,
    )
    write_audio(job.path, audio, job.sample_rate, quality=MP3_BITRATE_KBPS)


def _write_annotations(
    root: Path, table: pd.DataFrame, clip_seconds: float, rng: np.random.Generator
) -> None:
    static_rows, valence_rows, arousal_rows = [], [], []
    times_ms = dynamic_times_ms(clip_seconds)
    for _, row in table.iterrows():
        valence = listener_ratings(row.valence_true, rng)
        arousal = listener_ratings(row.arousal_true, rng)
        static_rows.append(
            [str(row.song_id)]
            + [f"{round(float(f(r)), d):g}" for r in (valence, arousal) for f, d in STATIC_STATS]
        )
        dyn_valence, dyn_arousal = dynamic_trace(row, times_ms / 1000.0, clip_seconds, rng)
        valence_rows.append(dyn_valence)
        arousal_rows.append(dyn_arousal)

    static_path = root / STATIC_PATH
    static_path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(static_rows).to_csv(
        static_path, index=False, header=STATIC_HEADER, lineterminator="\r\n"
    )
    (root / STATIC_EXTRA_PATH).write_bytes(f"{STATIC_EXTRA_HEADER}\r\n".encode())

    columns = [f"sample_{ms}ms" for ms in times_ms]
    (root / DYNAMIC_DIR).mkdir(parents=True, exist_ok=True)
    for name, rows in (("valence", valence_rows), ("arousal", arousal_rows)):
        frame = pd.DataFrame(np.array(rows), columns=columns)
        frame.insert(0, "song_id", table["song_id"].to_numpy())
        frame.to_csv(
            root / DYNAMIC_DIR / f"{name}.csv",
            index=False,
            float_format="%.15g",
            lineterminator="\n",
        )
