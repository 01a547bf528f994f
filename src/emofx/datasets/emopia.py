"""EMOPIA 2.2 (Hung et al. 2021): piano clips labelled with a Russell quadrant.

``midis/Q{1-4}_<song id>_<n>.mid``, ``label.csv`` (``ID, 4Q, annotator``), ``metadata_by_song.csv``
(not needed here). The quadrant is the target (Q1 excitement, Q2 anger, Q3 sadness, Q4 calmness);
valence/arousal are not annotated (null). The song id is the clip id without the ``Qn_`` prefix and
the ``_<n>`` suffix (song ids may contain ``_``); splits are song-disjoint, or taken from the
split files in ``split_dir``: the release's ``{train,val,test}_clip.csv`` (``clip_name``) or
EMOPIA_cls's ``train/val/test.csv`` (``fname,label``).

Audio comes from ``audio_dir`` (crawled clips named by clip id) or, by default, from rendering the
MIDI with FluidSynth into ``render_dir`` (default: the project's cache that prepare passes as
``cache_dir``; never beside the dataset, which may be read-only). Rendered clips keep their MIDI
as ``audio_path`` and give the WAV as the source to decode. A label line that cannot be used
(bad id, quadrant not matching the id, a clip labelled twice) rejects that clip, naming the line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from emofx.datasets.emopia_render import find_renderer, find_soundfont, render_midis
from emofx.datasets.files import (
    DatasetLayoutError,
    audio_files_by_stem,
    read_table,
    require_dir,
    resolve_under,
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
    cache_dir: Path | None = None,
) -> LoadResult:
    root = Path(root)
    labels, rejected = _read_labels(root / LABEL_FILE)
    midi_dir = require_dir(root / MIDI_DIR, "EMOPIA MIDI (midis)")
    midis: dict[str, Path] = {}
    bad_midi: dict[str, str] = {}
    for path in sorted(midi_dir.glob("*.mid")) + sorted(midi_dir.glob("*.midi")):
        checked = resolve_under(root, f"{MIDI_DIR}/{path.name}")
        if isinstance(checked, str):
            bad_midi[path.stem] = checked
        else:
            midis[path.stem] = checked
    unusable = {item.item_id for item in rejected}
    splits = _read_splits(root / split_dir, labels, unusable) if split_dir else None

    labelled = set(labels.index) | {item.item_id for item in rejected}
    rejected += [
        RejectedItem(clip, f"{MIDI_DIR}/{clip}.mid", "no annotation")
        for clip in sorted(set(midis) | set(bad_midi))
        if clip not in labelled
    ]
    wanted = list(labels.index)
    if splits is not None:
        rejected += [
            RejectedItem(clip, "", "not listed in the split files")
            for clip in wanted
            if clip not in splits.index
        ]
        wanted = [clip for clip in wanted if clip in splits.index]

    sources: dict[str, Path] = {}
    if audio_dir is not None:
        folder = require_dir(_under(root, audio_dir), "EMOPIA crawled audio (audio_dir)")
        found, problems = audio_files_by_stem(folder)
        # a folder inside the dataset is confined to it; one outside (absolute) to itself
        real = folder.resolve()
        base = root if real.is_relative_to(root) else real
        audio: dict[str, Path | str] = {}
        for clip in wanted:
            path = found.get(clip)
            if clip in problems:
                audio[clip] = problems[clip][1]
            elif path is None:
                audio[clip] = "missing audio"
            else:
                audio[clip] = resolve_under(base, str((real / path.name).relative_to(base)))
        rel_of = {clip: os.path.relpath(folder / found[clip].name, root) for clip in found}
    else:
        font = find_soundfont(soundfont)
        find_renderer()  # both named before anything else is asked for
        if render_dir:
            out = _under(root, render_dir)
        elif cache_dir is not None:
            out = Path(cache_dir) / "midi-render"
        else:
            raise DatasetLayoutError(
                "EMOPIA MIDI rendering needs a cache folder: run it through `emofx prepare` "
                "(which passes the project's cache) or set the emopia option render_dir"
            )
        have_midi = [clip for clip in wanted if clip in midis]
        rendered = render_midis([midis[c] for c in have_midi], out, font, sample_rate, workers)
        audio = {
            clip: rendered[midis[clip]] if clip in midis else bad_midi.get(clip, "missing MIDI")
            for clip in wanted
        }
        rel_of = {clip: f"{MIDI_DIR}/{midis[clip].name}" for clip in midis}

    rows = []
    for clip, path in audio.items():
        if isinstance(path, str):  # why there is no audio
            rel = rel_of.get(clip) or (f"{MIDI_DIR}/{clip}.mid" if clip in bad_midi else "")
            rejected.append(RejectedItem(clip, rel, path))
            continue
        probed = probe_audio(root, rel_of[clip], clip, source=path)
        if isinstance(probed, RejectedItem):
            rejected.append(probed)
            continue
        sources[clip] = path
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
    rendered = set(sources) if audio_dir is None else set()
    return LoadResult(manifest_frame(rows), rejected, sources=sources, rendered=rendered)


def _under(root: Path, folder: str) -> Path:
    path = Path(folder).expanduser()
    return path if path.is_absolute() else root / path


def _read_labels(path: Path) -> tuple[pd.DataFrame, list[RejectedItem]]:
    """``quadrant`` and ``song_id`` by clip id, and the lines that cannot be used: an id that
    does not parse, a 4Q that disagrees with the id, a clip labelled twice (all its lines)."""
    table = read_table(path, ["ID", "4Q"], dtype=str, keep_default_na=False)
    rows: dict[str, dict] = {}
    lines: dict[str, list[int]] = {}
    rejected = []
    for index, (clip, q) in enumerate(zip(table["ID"], table["4Q"], strict=True)):
        line = index + 2
        where = f"({path.name} line {line})"
        match = CLIP_ID.fullmatch(clip)
        if match is None:
            reason = f"bad clip id: {clip!r} is not Q<1-4>_<song id>_<n> {where}"
            rejected.append(RejectedItem(clip or f"line {line}", path.name, reason))
            continue
        lines.setdefault(clip, []).append(line)
        if q.strip() not in ("1", "2", "3", "4") or q.strip() != match.group(1):
            reason = f"bad label: 4Q {q!r} does not match clip {clip!r} {where}"
            rejected.append(RejectedItem(clip, path.name, reason))
            continue
        rows[clip] = {"quadrant": int(q), "song_id": match.group(2)}
    for clip, at in lines.items():
        if len(at) > 1:
            rows.pop(clip, None)
            listed = ", ".join(str(n) for n in at)
            reason = f"duplicate label: clip {clip!r} is labelled on lines {listed} of {path.name}"
            rejected = [r for r in rejected if r.item_id != clip]
            rejected.append(RejectedItem(clip, path.name, reason))
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["quadrant", "song_id"])
    return frame, rejected


def _read_splits(folder: Path, labels: pd.DataFrame, unusable: set[str]) -> pd.Series:
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
            if clip in unusable:  # its label line is rejected (with the reason)
                continue
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
