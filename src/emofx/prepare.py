"""The prepare stage: dataset → manifest + rejected list + prepared-audio cache (+ dynamic curves).

Every kept track is decoded once per working sample rate (in parallel processes: decoding holds the
GIL) into ``<out_dir>/audio/<sr>/<safe_id>.npy`` (mono 16-bit PCM, 2 bytes per sample, trimmed to
``offset_s`` / ``clip_seconds``), so no later stage decodes compressed audio again. The manifest
keeps the source file's facts (``duration_s``, ``sample_rate``, ``channels``); the prepared arrays
say the rest. ``dynamic.parquet`` holds the kept tracks' dynamic (2-Hz) curves in long form, native
and normalised (empty when the dataset has none), so later stages never read the raw dataset.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import sys
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from emofx.audio import AudioDecodeError, load_audio, silent_tail_s
from emofx.data_versioning import dataset_hash
from emofx.datasets import load_dataset, read_dynamic_curves
from emofx.datasets.config import DatasetParams
from emofx.datasets.files import resolve_under
from emofx.datasets.manifest import RejectedItem, assign_splits, coerce_manifest, rejected_frame
from emofx.errors import EmofxError
from emofx.lifetime import die_with_parent
from emofx.progress import ProgressLog, is_terminal

MANIFEST_FILE = "manifest.parquet"
REJECTED_FILE = "rejected.csv"
WARNINGS_FILE = "warnings.csv"
#: a silent end this long (exact zeros) marks a stream cut short
TRUNCATION_WARN_S = 0.5
DYNAMIC_FILE = "dynamic.parquet"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class TooManyRejectedError(EmofxError, RuntimeError):
    """More items were rejected than ``max_rejected_fraction`` allows."""


def safe_id(track_id: str) -> str:
    """A file-name-safe ``track_id``; ids that need changing get a hash suffix (no clashes)."""
    track_id = str(track_id)
    if _SAFE_ID.fullmatch(track_id):
        return track_id
    digest = hashlib.sha1(track_id.encode()).hexdigest()[:10]
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', track_id).strip('._')}-{digest}"


def prepared_audio_path(out_dir: str | Path, sample_rate: int, track_id: str) -> Path:
    return Path(out_dir) / "audio" / str(int(sample_rate)) / f"{safe_id(track_id)}.npy"


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """float audio → int16 ``round(x · 32768)``, clipped: 16-bit sources (x = k/32768, as
    libsndfile decodes them) round-trip exactly, as does every array :func:`from_pcm16` gives."""
    return np.clip(np.rint(np.asarray(audio, np.float64) * 32768), -32768, 32767).astype(np.int16)


def from_pcm16(pcm: np.ndarray) -> np.ndarray:
    return (np.asarray(pcm, np.float32) / np.float32(32768)).astype(np.float32)


def load_prepared_audio(out_dir: str | Path, sample_rate: int, track_id: str) -> np.ndarray:
    """The prepared mono float32 audio of ``track_id`` at ``sample_rate`` (the 16-bit PCM file is
    memory-mapped; a float32 array, as test fixtures write, is returned as is)."""
    path = prepared_audio_path(out_dir, sample_rate, track_id)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no prepared audio for track {track_id!r} at {sample_rate} Hz "
            "(run `emofx prepare` with this sample rate)"
        )
    audio = np.load(path, mmap_mode="r")
    return from_pcm16(audio) if audio.dtype == np.int16 else np.array(audio, np.float32)


def prepare(
    params: DatasetParams,
    out_dir: str | Path,
    sample_rates: Sequence[int],
    seed: int,
    *,
    data_hash: str | None = None,
    cache_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Load, filter, decode, split and write the dataset; return the manifest.

    The manifest's ``attrs`` (also in the parquet file) carry ``dataset``, ``format`` and
    ``data_hash`` (the DVC hash of ``params.root``: ``data_hash`` when the caller already has it,
    else :func:`emofx.data_versioning.dataset_hash`). ``cache_dir`` is where loaders keep work
    they derive from the raw data (EMOPIA's rendered MIDI; default ``<out_dir>/cache``): never
    beside the dataset, which may be read-only. Kept items with a partial problem (a stream cut
    short, an unusable dynamic curve) are listed in ``warnings.csv``.

    Raises :class:`TooManyRejectedError` (after writing ``rejected.csv``) when the rejected share
    of all items exceeds ``params.max_rejected_fraction``.
    """
    out_dir = Path(out_dir)
    sample_rates = sorted({int(sr) for sr in sample_rates})
    if not sample_rates or sample_rates[0] <= 0:
        raise ValueError(f"sample_rates must be positive integers, got {list(sample_rates)}")
    root = Path(params.root).resolve()
    loaded = load_dataset(
        params.format, root, cache_dir=Path(cache_dir or out_dir / "cache"), **params.options
    )
    manifest = loaded.manifest.assign(dataset=params.name)
    strata = loaded.strata if loaded.strata is not None else manifest["quadrant"]
    rejected = list(loaded.rejected)
    warned = list(loaded.warnings)

    too_short = _too_short(manifest, params)
    rejected += [
        RejectedItem(manifest.at[i, "track_id"], manifest.at[i, "audio_path"], reason)
        for i, reason in too_short.items()
    ]
    manifest = manifest.drop(index=list(too_short))
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_rejected(rejected, len(manifest), out_dir, params)  # fail before decoding if hopeless

    sources = {
        i: loaded.sources.get(row.track_id) or resolve_under(root, row.audio_path)
        for i, row in manifest.iterrows()
    }
    rendered = {i for i, row in manifest.iterrows() if row.track_id in loaded.rendered}
    failures, notes = _decode_all(manifest, sources, rendered, out_dir, sample_rates, params)
    rejected += [
        RejectedItem(manifest.at[i, "track_id"], manifest.at[i, "audio_path"], reason)
        for i, reason in failures.items()
    ]
    warned += [
        RejectedItem(manifest.at[i, "track_id"], manifest.at[i, "audio_path"], note)
        for i, note in notes.items()
        if i not in failures
    ]
    manifest = manifest.drop(index=list(failures))
    table = _write_rejected(rejected, len(manifest), out_dir, params)
    warnings_table = rejected_frame(warned)
    warnings_table.to_csv(out_dir / WARNINGS_FILE, index=False)
    manifest["split"] = _splits(manifest, strata.loc[manifest.index], params, seed)
    manifest = coerce_manifest(manifest)
    # lineage travels with the manifest (parquet metadata; pandas restores it as ``attrs``)
    manifest.attrs = {
        "dataset": params.name,
        "format": params.format,
        "data_hash": data_hash or dataset_hash(params.root),
        "audio": audio_key(params),
    }
    _write_parquet(read_dynamic_curves(params.root, manifest), out_dir / DYNAMIC_FILE)
    _write_parquet(manifest, out_dir / MANIFEST_FILE)
    _print_summary(params.name, manifest["split"], table, warnings_table)
    return manifest


def audio_key(params: DatasetParams) -> dict:
    """What shapes the prepared audio beyond the source files: the manifest carries it.

    The embed stage keys its store on the manifest's digest, so a changed clip length, offset,
    loader option or decoder version changes that key (and never serves stale embeddings).
    The working rates are not in it: each rate has its own folder, and adding one does not change
    the audio at the others.
    """
    return {
        "clip_seconds": params.clip_seconds,
        "offset_s": params.offset_s,
        "options": params.options,
        "decoder": f"pedalboard {version('pedalboard')}",
    }


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _write_rejected(
    rejected: list[RejectedItem], n_kept: int, out_dir: Path, params: DatasetParams
) -> pd.DataFrame:
    """Write ``rejected.csv``; raise when the rejected share exceeds the configured maximum."""
    table = rejected_frame(rejected)
    table.to_csv(out_dir / REJECTED_FILE, index=False)
    total = n_kept + len(table)
    fraction = len(table) / total if total else 1.0
    if fraction > params.max_rejected_fraction:
        _print_summary(params.name, pd.Series(["(not split)"] * n_kept), table)
        reasons = _reason_counts(table).head(3)
        listed = ", ".join(f"{reason} ×{count}" for reason, count in reasons.items())
        raise TooManyRejectedError(
            f"dataset {params.name!r}: {len(table)} of {total} items rejected "
            f"({fraction:.1%} > max_rejected_fraction {params.max_rejected_fraction:.1%}); "
            f"top reasons: {listed}; see {out_dir / REJECTED_FILE}"
        )
    return table


def _reason_counts(table: pd.DataFrame) -> pd.Series:
    """Rejections per reason kind (the text before the first ':')."""
    return table["reason"].str.split(":").str[0].value_counts()


def _too_short(manifest: pd.DataFrame, params: DatasetParams) -> dict[int, str]:
    usable = manifest["duration_s"] - params.offset_s
    reasons = {}
    for i, seconds in usable.items():
        if seconds <= 0:
            reasons[i] = (
                f"too short: {manifest.at[i, 'duration_s']:.2f} s is not longer than "
                f"offset_s {params.offset_s:g}"
            )
        elif seconds < params.min_seconds:
            reasons[i] = (
                f"too short: {seconds:.2f} s after offset_s {params.offset_s:g} "
                f"< min_seconds {params.min_seconds:g}"
            )
    return reasons


def _decode_track(
    source: Path | str,
    targets: list[tuple[int, Path]],
    offset_s: float,
    duration_s: float | None,
    check_tail: bool = True,
) -> tuple[str | None, str | None]:
    """Decode ``source`` at each (sample rate, target path).

    Returns (why the track is rejected, a warning about a kept track); either may be None.
    ``check_tail`` looks for a stream cut short (not for audio the project rendered itself,
    which may end in exact zeros).
    """
    if isinstance(source, str):  # the path check's reason (the file changed since loading)
        return source, None
    try:
        for sample_rate, target in targets:
            audio = load_audio(source, sample_rate, offset_s=offset_s, duration_s=duration_s)
            if audio.size == 0:
                raise AudioDecodeError(f"{source}: no samples after offset_s {offset_s:g}")
            if not np.any(audio):
                for _, written in targets:
                    written.unlink(missing_ok=True)
                return f"digital silence (peak 0): {source.name} is all zeros where kept", None
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp.npy")
            np.save(tmp, to_pcm16(audio))
            os.replace(tmp, target)
    except AudioDecodeError as exc:
        for _, target in targets:
            target.unlink(missing_ok=True)
        return f"decode failed: {exc}", None
    return None, _truncation_warning(source) if check_tail else None


def _truncation_warning(source: Path) -> str | None:
    try:
        tail = silent_tail_s(source, TRUNCATION_WARN_S)
    except Exception:  # a decoder quirk in this extra check must not reject a decoded track
        return None
    if tail is None or tail < TRUNCATION_WARN_S:
        return None
    return (
        f"stream ends early: the last {tail:.1f} s of {source.name} decode as digital silence "
        "(file truncated?)"
    )


def _decode_all(
    manifest: pd.DataFrame,
    sources: dict[int, Path | str],
    rendered: set[int],
    out_dir: Path,
    sample_rates: list[int],
    params: DatasetParams,
) -> tuple[dict[int, str], dict[int, str]]:
    """Decode every manifest row into the cache; return ``{row: failure}, {row: warning}``."""
    if manifest.empty:
        return {}, {}
    executor: Executor
    if params.workers > 1:
        # fork on Linux: workers start in milliseconds (spawn re-imports the caller's modules,
        # seconds per worker); the workers only decode, they touch no torch/OpenMP state
        ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        executor = ProcessPoolExecutor(
            max_workers=params.workers,
            mp_context=ctx,
            initializer=die_with_parent,  # even on kill -9 of prepare
            initargs=(os.getpid(),),
        )
    else:  # one worker: skip the process start-up cost
        executor = ThreadPoolExecutor(max_workers=1)
    failures, notes = {}, {}
    with executor:
        futures = {  # submitted (workers forked) before the progress bar starts its thread
            executor.submit(
                _decode_track,
                sources[i],
                [(sr, prepared_audio_path(out_dir, sr, row.track_id)) for sr in sample_rates],
                params.offset_s,
                params.clip_seconds,
                i not in rendered,
            ): i
            for i, row in manifest.iterrows()
        }
        label = f"decoding {params.name}"
        bar = Progress(transient=True, disable=not is_terminal())
        log = None if is_terminal() else ProgressLog(label, len(futures), "tracks")
        with bar:
            task = bar.add_task(label, total=len(futures))
            for done, future in enumerate(as_completed(futures), start=1):
                error, note = future.result()
                if error is not None:
                    failures[futures[future]] = error
                if note is not None:
                    notes[futures[future]] = note
                bar.advance(task)
                if log is not None:
                    log.update(done)
    return failures, notes


def _splits(
    manifest: pd.DataFrame, strata: pd.Series, params: DatasetParams, seed: int
) -> pd.Series:
    """Official splits when the loader set them (checked for leakage), else seeded assignment."""
    given = manifest["split"]
    if given.isna().all():
        return assign_splits(manifest["group_id"], params.split.model_dump(), seed, strata)
    if given.isna().any():
        raise ValueError(
            f"dataset {params.name!r}: {int(given.isna().sum())} tracks have no split while the "
            "others have official splits"
        )
    per_group = manifest.groupby("group_id")["split"].nunique()
    leaking = per_group[per_group > 1]
    if not leaking.empty:
        group = leaking.index[0]
        where = sorted(manifest.loc[manifest["group_id"] == group, "split"].unique())
        raise ValueError(
            f"dataset {params.name!r}: official splits leak group {group!r} across {where} "
            f"({len(leaking)} group(s) in more than one split)"
        )
    return given


def _print_summary(
    name: str, splits: pd.Series, rejected: pd.DataFrame, warned: pd.DataFrame | None = None
) -> None:
    table = Table(title=f"prepare {name}")
    table.add_column("status")
    table.add_column("detail")
    table.add_column("items", justify="right")
    for split, count in splits.value_counts().items():
        table.add_row("kept", str(split), str(count))
    for reason, count in _reason_counts(rejected).items():
        table.add_row("rejected", str(reason), str(count))
    if warned is not None:
        for reason, count in _reason_counts(warned).items():
            table.add_row("kept, warned", str(reason), str(count))
    Console(stderr=True).print(table)
