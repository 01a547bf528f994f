"""EMOPIA 2.2 (Hung et al. 2021): piano clips labelled with a Russell quadrant.

``midis/Q{1-4}_<song id>_<n>.mid``, ``label.csv`` (``ID, 4Q, annotator``), ``metadata_by_song.csv``
(not needed here). The quadrant is the target (Q1 excitement, Q2 anger, Q3 sadness, Q4 calmness);
valence/arousal are not annotated (null). The song id is the clip id without the ``Qn_`` prefix and
the ``_<n>`` suffix (song ids may contain ``_``); splits are song-disjoint, or taken from the
split files in ``split_dir``: the release's ``{train,val,test}_clip.csv`` (``clip_name``) or
EMOPIA_cls's ``train/val/test.csv`` (``fname,label``).

Audio comes from ``audio_dir`` (crawled clips named by clip id) or, by default, from rendering the
MIDI with FluidSynth into ``render_dir`` (default: ``<root>_rendered`` beside the dataset, so the
DVC-tracked raw folder is never written to).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from emofx.datasets.emopia_render import find_soundfont, render_midis
from emofx.datasets.files import (
    DatasetLayoutError,
    audio_files_by_stem,
    numeric_column,
    read_table,
    require_dir,
)
from emofx.datasets.manifest import SPLITS, LoadResult, RejectedItem, manifest_frame, probe_audio

LABEL_FILE = "label.csv"
MIDI_DIR = "midis"
CLIP_ID = re.compile(r"Q([1-4])_(.+)_(\d+)")


def song_id(clip_id: str) -> str:
    """``Q1__8v0MFBZoco_0`` → ``_8v0MFBZoco`` (only the quadrant prefix and clip index go)."""
    match = CLIP_ID.fullmatch(clip_id)
    if match is None:
        raise ValueError(f"EMOPIA clip id {clip_id!r} is not Q<1-4>_<song id>_<n>")
    return match.group(2)


def load(
    root: str | Path,
    audio_dir: str | None = None,
    render_dir: str | None = None,
    soundfont: str | None = None,
    sample_rate: int = 22050,
    split_dir: str | None = None,
    workers: int = 2,
) -> LoadResult:
    root = Path(root)
    labels = _read_labels(root / LABEL_FILE)
    midi_dir = require_dir(root / MIDI_DIR, "EMOPIA MIDI (midis)")
    midis = {p.stem: p for p in sorted(midi_dir.glob("*.mid")) + sorted(midi_dir.glob("*.midi"))}
    splits = _read_splits(root / split_dir, labels) if split_dir else None

    rejected = [
        RejectedItem(clip, f"{MIDI_DIR}/{path.name}", "no annotation")
        for clip, path in midis.items()
        if clip not in labels.index
    ]
    wanted = list(labels.index)
    if splits is not None:
        rejected += [
            RejectedItem(clip, "", "not listed in the split files")
            for clip in wanted
            if clip not in splits.index
        ]
        wanted = [clip for clip in wanted if clip in splits.index]

    if audio_dir is not None:
        folder = require_dir(_under(root, audio_dir), "EMOPIA crawled audio (audio_dir)")
        found = audio_files_by_stem(folder)
        audio: dict[str, Path | str] = {clip: found.get(clip, "missing audio") for clip in wanted}
    else:
        out = _under(root, render_dir) if render_dir else root.parent / f"{root.name}_rendered"
        font = find_soundfont(soundfont)
        have_midi = [clip for clip in wanted if clip in midis]
        rendered = render_midis([midis[c] for c in have_midi], out, font, sample_rate, workers)
        audio = {clip: rendered.get(midis.get(clip), "missing MIDI") for clip in wanted}

    rows = []
    for clip, path in audio.items():
        if isinstance(path, str):  # why there is no audio
            midi = midis.get(clip)
            rejected.append(RejectedItem(clip, f"{MIDI_DIR}/{midi.name}" if midi else "", path))
            continue
        probed = probe_audio(root, os.path.relpath(path, root), clip)
        if isinstance(probed, RejectedItem):
            rejected.append(probed)
            continue
        rows.append(
            {
                "track_id": clip,
                "dataset": "emopia",
                "group_id": labels.at[clip, "song_id"],
                "quadrant": int(labels.at[clip, "quadrant"]),
                "split": None if splits is None else splits[clip],
                **probed,
            }
        )
    return LoadResult(manifest_frame(rows), rejected)


def _under(root: Path, folder: str) -> Path:
    path = Path(folder).expanduser()
    return path if path.is_absolute() else root / path


def _read_labels(path: Path) -> pd.DataFrame:
    """``quadrant`` and ``song_id`` by clip id; ids must parse and agree with their label."""
    table = read_table(path, ["ID", "4Q"], dtype={"ID": str})
    quadrants = numeric_column(table, "4Q", path)
    rows = {}
    for index, (clip, q) in enumerate(zip(table["ID"], quadrants, strict=True)):
        line = index + 2
        match = CLIP_ID.fullmatch(str(clip))
        if match is None:
            raise DatasetLayoutError(
                f"{path}: line {line}: clip id {clip!r} is not Q<1-4>_<song id>_<n>"
            )
        if q not in (1, 2, 3, 4) or int(q) != int(match.group(1)):
            raise DatasetLayoutError(
                f"{path}: line {line}: 4Q {str(table['4Q'].iloc[index])!r} "
                f"does not match clip {clip!r}"
            )
        if clip in rows:
            raise DatasetLayoutError(f"{path}: clip {clip!r} is labelled twice (line {line})")
        rows[clip] = {"quadrant": int(q), "song_id": match.group(2)}
    return pd.DataFrame.from_dict(rows, orient="index")


def _read_splits(folder: Path, labels: pd.DataFrame) -> pd.Series:
    """Clip id → split; each listed clip in one file.

    The release's ``<split>_clip.csv`` (column ``clip_name``, file names) or EMOPIA_cls's
    ``<split>.csv`` (``fname`` and an optional ``label`` checked against ``label.csv``).
    """
    require_dir(folder, "EMOPIA split (split_dir)")
    split_of: dict[str, str] = {}
    for split in SPLITS:
        path, column = folder / f"{split}_clip.csv", "clip_name"
        if not path.is_file():
            path, column = folder / f"{split}.csv", "fname"
        if not path.is_file():
            raise DatasetLayoutError(
                f"{folder}: no {split}_clip.csv (EMOPIA release) or {split}.csv (EMOPIA_cls)"
            )
        table = read_table(path, [column], dtype=str)
        given = table["label"] if "label" in table.columns else [None] * len(table)
        for index, (clip, label) in enumerate(zip(table[column], given, strict=True)):
            clip = Path(clip).stem  # some copies list file names
            if clip in split_of:
                raise DatasetLayoutError(
                    f"{path}: line {index + 2}: clip {clip!r} is already in the "
                    f"{split_of[clip]} split"
                )
            if clip not in labels.index:
                raise DatasetLayoutError(
                    f"{path}: line {index + 2}: clip {clip!r} is not in {LABEL_FILE}"
                )
            if label is not None and label != f"Q{labels.at[clip, 'quadrant']}":
                raise DatasetLayoutError(
                    f"{path}: line {index + 2}: label {label!r} of clip {clip!r} disagrees with "
                    f"{LABEL_FILE} (Q{labels.at[clip, 'quadrant']})"
                )
            split_of[clip] = split
    return pd.Series(split_of, dtype="string")
