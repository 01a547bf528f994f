"""Dataset loaders, one module per dataset layout, all producing the manifest of ``manifest.py``."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from emofx.datasets import deam, emopia, emotify, generic_csv, pmemo
from emofx.datasets.manifest import LoadResult, normalise

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
#: native scale of each format's dynamic curves (normalised to [-1, 1] like the static targets)
_DYNAMIC_SCALES: dict[str, tuple[float, float]] = {
    "deam": deam.DYNAMIC_SCALE,
    "pmemo": pmemo.SCALE,
}
DYNAMIC_COLUMNS = ["track_id", "time_s", "valence", "arousal", "valence_norm", "arousal_norm"]


def load_dataset(
    name: str, root: str | Path, cache_dir: Path | None = None, **options
) -> LoadResult:
    """Load the dataset at ``root`` with the loader registered as ``name``.

    Unknown names and options are errors that list what is accepted. ``cache_dir`` (the project's,
    never beside the dataset) goes to loaders that derive files from the data (EMOPIA renders).
    """
    if name not in DATASETS:
        raise KeyError(f"unknown dataset format {name!r}; choose from {sorted(DATASETS)}")
    loader = DATASETS[name]
    accepted = [p for p in inspect.signature(loader).parameters if p not in ("root", "cache_dir")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"dataset format {name!r} has no option(s) {unknown}; options: {accepted or 'none'}"
        )
    # the resolved root: every file a loader reads must resolve inside it
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset root folder not found (format {name!r})")
    if cache_dir is not None and "cache_dir" in inspect.signature(loader).parameters:
        options["cache_dir"] = Path(cache_dir)
    return loader(root, **options)


def read_dynamic(root: str | Path, dynamic_ref: str) -> pd.DataFrame:
    """The dynamic annotation a manifest ``dynamic_ref`` points at: ``time_s, valence, arousal``."""
    kind = json.loads(dynamic_ref).get("format")
    if kind not in _DYNAMIC_READERS:
        raise ValueError(f"dynamic_ref has unknown format {kind!r}: {dynamic_ref}")
    return _DYNAMIC_READERS[kind](Path(root), dynamic_ref)


def read_dynamic_curves(root: str | Path, manifest: pd.DataFrame) -> pd.DataFrame:
    """Every dynamic curve the manifest references, one row per (track, instant).

    Columns :data:`DYNAMIC_COLUMNS`: native values and values normalised to [-1, 1]. Instants where
    both dimensions are missing are dropped by the readers; tracks without ``dynamic_ref`` have
    no rows.
    """
    parts = []
    if "dynamic_ref" in manifest.columns:
        for track_id, ref in manifest[["track_id", "dynamic_ref"]].dropna().itertuples(index=False):
            scale = _DYNAMIC_SCALES[json.loads(ref).get("format")]
            curve = read_dynamic(root, ref)
            parts.append(
                curve.assign(
                    track_id=str(track_id),
                    valence_norm=normalise(curve["valence"], *scale),
                    arousal_norm=normalise(curve["arousal"], *scale),
                )
            )
    if not parts:
        return pd.DataFrame(
            {
                c: pd.Series(dtype="string" if c == "track_id" else "float64")
                for c in DYNAMIC_COLUMNS
            }
        )
    return pd.concat(parts, ignore_index=True)[DYNAMIC_COLUMNS]
