"""A tiny prepared dataset (real audio arrays in the prepare cache layout) for embed tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from emofx.prepare import prepared_audio_path

SR = 22_050
CONDITION_IDS = ("clean", "gain@8", "distortion@5", "reverb@3+lufs")


def make_prepared(
    root: Path, n_tracks: int = 6, seconds: float = 1.5, seed: int = 0
) -> pd.DataFrame:
    """Tones with noise at the handcrafted encoder's rate; returns the manifest."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    ids = [f"t{i:02d}" for i in range(n_tracks)]
    for i, track in enumerate(ids):
        audio = 0.3 * np.sin(2 * np.pi * (220 + 40 * i) * t) + 0.02 * rng.standard_normal(t.size)
        path = prepared_audio_path(root, SR, track)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, audio.astype(np.float32))
    splits = (["train", "val", "test"] * n_tracks)[:n_tracks]
    return pd.DataFrame({"track_id": ids, "split": splits})


def write_encoder_config(path: Path, trainer: dict | None = None, **data) -> Path:
    config = {
        "model": {
            "class_path": "emofx.encoders.handcrafted.HandcraftedEncoder",
            "init_args": {"sample_rate": SR},
        },
        "trainer": {"accelerator": "cpu", "devices": 1, **(trainer or {})},
        "data": {"batch_size": 3, "shard_tracks": 2, "render_threads": 2, **data},
    }
    path.write_text(yaml.safe_dump(config))
    return path
