"""Tiny embedding stores and manifests for the probe tests, written in the store's file format.

Layer ``mid`` (index 1) carries the signal: valence/arousal are linear in its first features, the
quadrant follows their signs and three label proportions are logistic in them. Layers ``low`` and
``high`` are noise, so a layer sweep must pick ``mid``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

LAYERS = ["low", "mid", "high"]
DIMS = [8, 6, 4]
LABELS = ["calm", "dark", "joy"]


def save_layers(
    folder: Path,
    index: pd.DataFrame,
    mid: Callable[[int], np.ndarray],
    conditions: tuple[str, ...],
    rng: np.random.Generator,
    meta: dict,
) -> None:
    """A store folder: per condition ``c`` the noise layers ``low``/``high`` around ``mid(c)``,
    one row per ``index`` row, plus ``index.parquet`` and ``meta.json`` (``meta`` added)."""
    folder.mkdir(parents=True)
    n = len(index)
    for c, condition in enumerate(conditions):
        arr = np.zeros((n, len(LAYERS), max(DIMS)), dtype=np.float32)
        arr[:, 0, : DIMS[0]] = rng.normal(size=(n, DIMS[0]))
        arr[:, 1, : DIMS[1]] = mid(c)
        arr[:, 2, : DIMS[2]] = rng.normal(size=(n, DIMS[2]))
        np.save(folder / f"{condition}.npy", arr)
    index.to_parquet(folder / "index.parquet")
    layers = {"encoder": "tiny", "layer_names": LAYERS, "layer_dims": DIMS}
    (folder / "meta.json").write_text(
        json.dumps({**layers, "conditions": list(conditions), **meta})
    )


def write_store(
    root: Path,
    n: int = 72,
    seed: int = 0,
    conditions: tuple[str, ...] = ("clean", "reverb@3"),
) -> tuple[Path, pd.DataFrame]:
    """``root/tiny`` store and its manifest (splits 60/20/20 %, every quadrant in train)."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(n, DIMS[1]))
    valence = np.tanh(0.8 * signal[:, 0] + 0.3 * signal[:, 1] + 0.1 * rng.normal(size=n))
    arousal = np.tanh(0.8 * signal[:, 2] - 0.3 * signal[:, 3] + 0.1 * rng.normal(size=n))
    quadrant = np.select(
        [(valence >= 0) & (arousal >= 0), (valence < 0) & (arousal >= 0), (valence < 0)],
        [1, 2, 3],
        4,
    )
    logits = np.stack([-2 * arousal, -2 * valence, 2 * valence + arousal], axis=1)
    labels = 1 / (1 + np.exp(-logits))
    split = np.where(np.arange(n) % 5 < 3, "train", np.where(np.arange(n) % 5 == 3, "val", "test"))
    ids = [f"t{i:03d}" for i in range(n)]
    store = root / "tiny"
    save_layers(
        store,
        pd.DataFrame({"track_id": ids, "split": split}),
        lambda c: signal + 0.2 * c * rng.normal(size=signal.shape),
        conditions,
        rng,
        {"n_tracks": n, "inputs_hash": f"tiny-{seed}-{n}"},
    )
    manifest = pd.DataFrame(
        {
            "track_id": ids,
            "split": split,
            "valence_norm": valence,
            "arousal_norm": arousal,
            "quadrant": pd.array(quadrant, dtype="Int64"),
            "labels": [
                json.dumps(dict(zip(LABELS, row.round(4).tolist(), strict=True))) for row in labels
            ],
        }
    )
    return store, manifest


def write_frame_store(
    store: Path,
    manifest: pd.DataFrame,
    n_frames: int = 12,
    seed: int = 1,
    conditions: tuple[str, ...] = ("clean", "reverb@3"),
) -> pd.DataFrame:
    """``store/frames``: 2-Hz frames (ends 3.0, 3.5, … s) whose ``mid`` layer carries the curves.

    Returns the dynamic curves (``track_id, time_s, valence_norm, arousal_norm``) on the same
    grid, starting 1 s before the first frame (two annotations with no frame) and ending 1 s
    before the last (two frames with no annotation), like DEAM's 15-s start.
    """
    rng = np.random.default_rng(seed)
    n = len(manifest)
    times = 3.0 + 0.5 * np.arange(n_frames)
    signal = rng.normal(size=(n, n_frames, DIMS[1]))
    valence = np.tanh(0.8 * signal[..., 0] + 0.1 * rng.normal(size=(n, n_frames)))
    arousal = np.tanh(0.8 * signal[..., 2] + 0.1 * rng.normal(size=(n, n_frames)))
    index = pd.DataFrame(
        {
            "track_id": np.repeat(manifest["track_id"].to_numpy(), n_frames),
            "split": np.repeat(manifest["split"].to_numpy(), n_frames),
            "time_s": np.tile(times, n),
        }
    )
    save_layers(
        store / "frames",
        index,
        lambda c: (signal + 0.2 * c).reshape(n * n_frames, -1),
        conditions,
        rng,
        {
            "n_tracks": n,
            "inputs_hash": f"tiny-frames-{seed}-{n}",
            "frames": {"window_s": 3.0, "hop_s": 0.5, "offset_s": 0.0},
        },
    )
    curve_times = np.concatenate([times[0] - [1.0, 0.5], times[:-2]])
    early = np.full((n, 2), 0.0)
    return pd.DataFrame(
        {
            "track_id": np.repeat(manifest["track_id"].to_numpy(), n_frames),
            "time_s": np.tile(curve_times, n),
            "valence_norm": np.concatenate([early, valence[:, :-2]], axis=1).ravel(),
            "arousal_norm": np.concatenate([early, arousal[:, :-2]], axis=1).ravel(),
        }
    )
