"""Reading the files datasets ship (annotation tables, audio folders) with errors naming them."""

from __future__ import annotations

import functools
import os
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


def printable(text: str | Path) -> str:
    """``text`` safe to write anywhere: bytes of a non-UTF-8 file name become ``\\xff`` escapes."""
    if isinstance(text, Path):
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    raw = str(text).encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


def _not_utf8(name: str) -> bool:
    return printable(name) != name


def allowed_roots(root: Path) -> tuple[Path, ...]:
    """Where a dataset's files may really live: the root, and the cache of the DVC repository
    around it (DVC's ``symlink`` cache type links every tracked file there)."""
    repo = next((p for p in (root, *root.parents) if (p / ".dvc").is_dir()), None)
    return (root,) if repo is None else (root, (repo / ".dvc" / "cache").resolve())


def resolve_under(root: Path, rel: str) -> Path | str:
    """The regular file ``rel`` names inside the (resolved) dataset ``root``, or why it may not
    be read: a path or symlink leading out of the root, a dangling link, a non-UTF-8 name, a
    missing or unreadable file. Nothing outside the root is ever opened."""
    shown = printable(rel)
    if Path(rel).is_absolute():
        return f"path escapes the dataset root: {shown} is an absolute path"
    lexical = Path(os.path.normpath(root / rel))
    if not lexical.is_relative_to(root):
        return f"path escapes the dataset root: {shown}"
    if _not_utf8(rel):
        return f"file name is not valid UTF-8: {shown}"
    try:
        target = lexical.resolve(strict=True)
    except FileNotFoundError:
        if lexical.is_symlink():
            return f"dangling symlink: {shown} → {printable(os.readlink(lexical))}"
        return "missing audio"
    except (OSError, RuntimeError) as exc:  # a symlink loop, a folder without search permission
        return f"unresolvable path: {shown} ({getattr(exc, 'strerror', None) or exc})"
    if not any(target.is_relative_to(allowed) for allowed in allowed_roots(root)):
        return f"symlink leads outside the dataset root: {shown} → {printable(target)}"
    if not target.is_file():
        return f"not a regular file: {shown}"
    if not os.access(target, os.R_OK):
        return f"permission denied: {shown} cannot be read"
    return target


def audio_files_by_stem(folder: Path) -> tuple[dict[str, Path], dict[str, tuple[str, str]]]:
    """Audio files directly in ``folder`` keyed by file stem (``2.mp3`` → ``"2"``), and the
    problem ones: ``{stem: (file names, reason)}``.

    Two files sharing a stem (``2.mp3`` and ``2.wav``) are ambiguous and both are problems, as is
    a name that is not UTF-8. Symlinks are listed whatever they point at
    (:func:`resolve_under` judges them).
    """
    by_stem: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in SUPPORTED_EXTENSIONS and (path.is_file() or path.is_symlink()):
            by_stem.setdefault(path.stem, []).append(path)
    found: dict[str, Path] = {}
    problems: dict[str, tuple[str, str]] = {}
    for stem, paths in by_stem.items():
        names = ", ".join(printable(p.name) for p in paths)
        if _not_utf8(stem):
            problems[printable(stem)] = (names, f"file name is not valid UTF-8: {names}")
        elif len(paths) > 1:
            problems[stem] = (names, f"ambiguous audio: two files for id {stem!r} ({names})")
        else:
            found[stem] = paths[0]
    return found, problems


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
