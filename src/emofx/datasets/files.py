"""Reading the files datasets ship (annotation tables, audio folders) with errors naming them."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from emofx.audio import SUPPORTED_EXTENSIONS
from emofx.errors import EmofxError


class DatasetLayoutError(EmofxError, ValueError):
    """The dataset folder does not have the layout its loader expects; the message says where."""


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DatasetLayoutError(f"{path}: {what} folder not found")
    return path


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetLayoutError(f"{path}: {what} file not found")
    return path


def read_table(path: Path, required: Iterable[str], **read_csv_kwargs) -> pd.DataFrame:
    """Read a CSV whose header may carry spaces after the commas; check required columns.

    Column names are stripped (``" valence_mean"`` → ``"valence_mean"``) and so are string cells.
    """
    require_file(path, "annotation")
    try:
        table = pd.read_csv(path, skipinitialspace=True, **read_csv_kwargs)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DatasetLayoutError(f"{path}: cannot parse as CSV ({exc})") from exc
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DatasetLayoutError(
            f"{path}: missing column(s) {missing}; found {list(table.columns)}"
        )
    for col in table.columns:
        if pd.api.types.is_string_dtype(table[col]) or table[col].dtype == object:
            table[col] = table[col].map(lambda v: v.strip() if isinstance(v, str) else v)
    return table


def audio_files_by_stem(folder: Path) -> dict[str, Path]:
    """Audio files directly in ``folder`` keyed by file stem (``2.mp3`` → ``"2"``).

    Raises when two files share a stem (``2.mp3`` and ``2.wav``): which one is meant is ambiguous.
    """
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS or not path.is_file():
            continue
        if path.stem in found:
            raise DatasetLayoutError(
                f"{folder}: two audio files for id {path.stem!r}: {found[path.stem].name}, "
                f"{path.name}"
            )
        found[path.stem] = path
    return found


def numeric_column(table: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """``table[column]`` as floats; a non-numeric cell is an error naming file, row and value."""
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() & table[column].notna() & (table[column].astype("string").str.strip() != "")
    if bad.any():
        row = int(bad.idxmax())
        raise DatasetLayoutError(
            f"{path}: column {column!r} row {row + 2} has non-numeric value "
            f"{table[column].iloc[row]!r}"
        )
    return values.astype("float64")


def cached_by_file(reader: Callable[[Path], pd.DataFrame]) -> Callable[[Path], pd.DataFrame]:
    """Memoise ``reader(path)`` per (path, mtime, size): a per-song lookup over a dataset-wide
    table reads the file once, and again only when it changes. Callers must not mutate the result.
    """
    cache = functools.lru_cache(maxsize=16)(lambda path, stamp: reader(path))

    @functools.wraps(reader)
    def read(path: Path) -> pd.DataFrame:
        path = Path(path)
        if not path.is_file():
            return reader(path)  # the reader's own "file not found" error
        stat = path.stat()
        return cache(path.resolve(), (stat.st_mtime_ns, stat.st_size))

    return read
