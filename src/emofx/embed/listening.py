"""Listening material for each FX condition: audition excerpts (to MLflow) and, on request, every
rendered (track, condition) as FLAC — rendered from the prepared audio, like the embeddings."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from emofx.fx.audition import materialise, write_audition
from emofx.fx.conditions import Condition
from emofx.fx.config import AuditionParams
from emofx.prepare import load_prepared_audio


def audition_clips(
    manifest: pd.DataFrame, prepared_dir: Path, sample_rate: int, n: int, seed: int
) -> dict[str, np.ndarray]:
    """``n`` seeded test tracks (any split if the test split is smaller) → prepared audio."""
    pool = manifest[manifest["split"] == "test"]
    if len(pool) < n:
        pool = manifest
    chosen = pool.sample(n=min(n, len(pool)), random_state=seed)["track_id"].astype(str)
    return {t: load_prepared_audio(prepared_dir, sample_rate, t) for t in chosen}


def log_audition(
    conditions: list[Condition],
    manifest: pd.DataFrame,
    prepared_dir: Path,
    sample_rate: int,
    params: AuditionParams,
    seed: int,
) -> int:
    """Excerpts + log-mel PNGs per condition into the active run's ``audition/``; returns n."""
    if params.clips == 0:
        return 0
    clips = audition_clips(manifest, prepared_dir, sample_rate, params.clips, seed)
    with tempfile.TemporaryDirectory() as tmp:
        written = write_audition(conditions, clips, sample_rate, tmp, excerpt_s=params.excerpt_s)
        mlflow.log_artifacts(tmp, "audition")
    return len(written)


def materialise_rendered(
    conditions: list[Condition],
    manifest: pd.DataFrame,
    prepared_dir: Path,
    sample_rate: int,
    out_dir: Path,
) -> int:
    """Every (track, condition) as ``out_dir/<condition>/<track>.flac``; returns the file count."""
    tracks = (
        (t, load_prepared_audio(prepared_dir, sample_rate, t))
        for t in manifest["track_id"].astype(str)
    )
    return len(materialise(conditions, tracks, sample_rate, out_dir))
