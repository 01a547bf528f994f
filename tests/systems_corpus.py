"""A tiny synthetic corpus through the real prepare / conditions / embed code, for systems tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from emofx.datasets.config import DatasetParams
from emofx.datasets.synth import generate_corpus
from emofx.embed.runner import EncoderConfig, embed_dataset
from emofx.fx.conditions import resolve_condition, save_conditions
from emofx.prepare import prepare
from tests.embed_fixtures import write_encoder_config

SR = 22_050
CONDITIONS = ("clean", "gain@8")


@dataclass(frozen=True)
class Corpus:
    root: Path
    manifest: pd.DataFrame
    prepared: Path
    conditions: Path
    embeddings: Path


def build_corpus(root: Path, n_tracks: int, clip_seconds: float, seed: int = 3) -> Corpus:
    """Synth corpus → prepared 22.05-kHz audio → conditions.json → handcrafted store."""
    raw = root / "raw"
    generate_corpus(raw, n_tracks=n_tracks, clip_seconds=clip_seconds, seed=seed, workers=2)
    params = DatasetParams(
        name="synth",
        format="deam",
        root=raw,
        split={"train": 0.6, "val": 0.2, "test": 0.2},
        clip_seconds=clip_seconds,
        workers=2,
    )
    prepared = root / "prepared"
    manifest = prepare(params, prepared, [SR], seed, data_hash="test")
    conditions = [resolve_condition(c) for c in CONDITIONS]
    conditions_path = root / "conditions.json"
    save_conditions(conditions, conditions_path)
    config = EncoderConfig.from_yaml(write_encoder_config(root / "embed.handcrafted.yaml"))
    embeddings = root / "embeddings"
    embed_dataset(
        config,
        manifest,
        prepared,
        conditions,
        embeddings / "handcrafted",
        seed=seed,
        data_hash="test",
        progress=False,
    )
    return Corpus(root, manifest, prepared, conditions_path, embeddings)
