"""Log-mel chunk sets per FX condition, computed in memory from the prepared 22.05-kHz audio.

Each condition is rendered on the fly (:func:`emofx.fx.render.render`, thread-safe, releases the
GIL) and cut into 3-s 128×128 dB chunks (:func:`emofx.encoders.logmel.logmel_chunks`); nothing is
cached on disk. ``group`` maps every chunk to its track's position, for per-song aggregation.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from emofx.encoders.logmel import SAMPLE_RATE, logmel_chunks
from emofx.fx.conditions import Condition
from emofx.fx.render import render
from emofx.prepare import load_prepared_audio


@dataclass(frozen=True)
class ChunkSet:
    images: torch.Tensor  # [n_chunks, 128, 128] float32 dB
    group: torch.Tensor  # [n_chunks] int64: position of the chunk's track in ``track_ids``

    def dataset(self, targets: np.ndarray) -> TensorDataset:
        """(image, per-track target row, group) triples; ``targets`` is ``[n_tracks, k]``."""
        y = torch.as_tensor(targets, dtype=torch.float32)[self.group]
        return TensorDataset(self.images, y, self.group)

    def subset(self, tracks: np.ndarray) -> ChunkSet:
        """The chunks of the tracks where ``tracks`` (bool, one per track) is true, their groups
        renumbered to positions among those tracks."""
        keep = torch.as_tensor(tracks, dtype=torch.bool)
        position = torch.cumsum(keep, 0) - 1
        rows = keep[self.group]
        return ChunkSet(self.images[rows], position[self.group[rows]])


def track_chunks(
    prepared_dir: Path, track_id: str, condition: Condition, hop_s: float
) -> torch.Tensor:
    """One track's chunks under ``condition`` (mono, at the log-mel rate)."""
    audio = load_prepared_audio(prepared_dir, SAMPLE_RATE, track_id)
    rendered = render(condition, audio, SAMPLE_RATE).audio
    return logmel_chunks(torch.from_numpy(np.ascontiguousarray(rendered)), hop_s=hop_s)


def condition_chunks(
    prepared_dir: Path,
    track_ids: list[str],
    condition: Condition,
    *,
    hop_s: float = 3.0,
    workers: int = 2,
) -> ChunkSet:
    """Chunks of every track in ``track_ids`` under ``condition``, in track order."""
    with ThreadPoolExecutor(workers) as pool:
        per_track = list(
            pool.map(lambda t: track_chunks(prepared_dir, t, condition, hop_s), track_ids)
        )
    group = torch.cat([torch.full((len(c),), i, dtype=torch.long) for i, c in enumerate(per_track)])
    return ChunkSet(torch.cat(per_track), group)
