"""Dataset loaders, one module per dataset layout, all producing the manifest of ``manifest.py``."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from emofx.datasets import deam, emopia, emotify, generic_csv, pmemo
from emofx.datasets.manifest import LoadResult

Loader = Callable[..., LoadResult]

#: format key (params.yaml ``dataset.format``) → ``load(root, **options) -> LoadResult``
DATASETS: dict[str, Loader] = {
    "deam": deam.load,
    "deam-dynamic": deam.load_dynamic,
    "emopia": emopia.load,
    "pmemo": pmemo.load,
    "emotify": emotify.load,
    "csv": generic_csv.load,
}
_DYNAMIC_READERS: dict[str, Callable[[Path, str], pd.DataFrame]] = {
    "deam": deam.read_dynamic,
    "pmemo": pmemo.read_dynamic,
}


def load_dataset(name: str, root: str | Path, **options) -> LoadResult:
    """Load the dataset at ``root`` with the loader registered as ``name``.

    Unknown names and options are errors that list what is accepted.
    """
    if name not in DATASETS:
        raise KeyError(f"unknown dataset format {name!r}; choose from {sorted(DATASETS)}")
    loader = DATASETS[name]
    accepted = [p for p in inspect.signature(loader).parameters if p != "root"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"dataset format {name!r} has no option(s) {unknown}; options: {accepted or 'none'}"
        )
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset root folder not found (format {name!r})")
    return loader(root, **options)


def read_dynamic(root: str | Path, dynamic_ref: str) -> pd.DataFrame:
    """The dynamic annotation a manifest ``dynamic_ref`` points at: ``time_s, valence, arousal``."""
    kind = json.loads(dynamic_ref).get("format")
    if kind not in _DYNAMIC_READERS:
        raise ValueError(f"dynamic_ref has unknown format {kind!r}: {dynamic_ref}")
    return _DYNAMIC_READERS[kind](Path(root), dynamic_ref)
