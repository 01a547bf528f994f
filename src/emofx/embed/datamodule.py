"""(track × condition) pairs → batches of audio with the condition's FX applied on the fly.

Pairs are ordered track-major and cut into shards of whole tracks; a batch never crosses a shard,
so a shard is the unit of resumption and the batches (hence the float results) are the same
whether a run is fresh, resumed or split over DDP ranks. Each track's prepared audio is read once
per batch and the conditions are rendered in a thread pool (pedalboard releases the GIL; boards
are rebuilt from their specs in each call, never pickled).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from emofx.fx.conditions import Condition
from emofx.fx.loudness import integrated_loudness
from emofx.fx.render import Rendered, render


@dataclass(frozen=True)
class BatchSpec:
    shard: int
    pairs: tuple[tuple[int, int], ...]  # (track index, condition index)
    last_in_shard: bool


def plan_batches(
    n_tracks: int, n_conditions: int, shard_tracks: int, batch_size: int
) -> list[BatchSpec]:
    """All batches of the run, in order; shard ``k`` holds tracks ``[k·shard_tracks, …)``."""
    specs = []
    for shard, start in enumerate(range(0, n_tracks, shard_tracks)):
        pairs = [
            (t, c)
            for t in range(start, min(start + shard_tracks, n_tracks))
            for c in range(n_conditions)
        ]
        chunks = [pairs[i : i + batch_size] for i in range(0, len(pairs), batch_size)]
        specs += [
            BatchSpec(shard, tuple(chunk), i == len(chunks) - 1) for i, chunk in enumerate(chunks)
        ]
    return specs


def n_shards(n_tracks: int, shard_tracks: int) -> int:
    return -(-n_tracks // shard_tracks)


class RenderedPairs(Dataset):
    """Item ``i`` is the whole rendered batch ``specs[i]`` (the DataLoader does no batching)."""

    def __init__(
        self,
        specs: Sequence[BatchSpec],
        load_track: Callable[[int], np.ndarray],
        conditions: Sequence[Condition],
        sample_rate: int,
        render_threads: int,
    ) -> None:
        self.specs = list(specs)
        self.load_track = load_track
        self.conditions = list(conditions)
        self.sample_rate = sample_rate
        self.render_threads = max(1, render_threads)

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, i: int) -> dict:
        spec = self.specs[i]
        tracks = {t: self.load_track(t) for t in dict.fromkeys(t for t, _ in spec.pairs)}
        loudness = {t: integrated_loudness(audio, self.sample_rate) for t, audio in tracks.items()}

        def render_pair(pair: tuple[int, int]) -> Rendered:
            t, c = pair
            return render(
                self.conditions[c], tracks[t], self.sample_rate, loudness_in_lufs=loudness[t]
            )

        with ThreadPoolExecutor(self.render_threads) as pool:
            rendered = list(pool.map(render_pair, spec.pairs))
        return {
            "audio": [
                torch.from_numpy(np.ascontiguousarray(r.audio, dtype=np.float32)) for r in rendered
            ],
            "n_samples": torch.tensor([r.audio.shape[-1] for r in rendered]),
            "n_dry": torch.tensor([tracks[t].shape[-1] for t, _ in spec.pairs]),
            "track": torch.tensor([t for t, _ in spec.pairs]),
            "condition": torch.tensor([c for _, c in spec.pairs]),
            "lufs_in": torch.tensor([r.loudness_in_lufs for r in rendered], dtype=torch.float64),
            "lufs_out": torch.tensor([r.loudness_out_lufs for r in rendered], dtype=torch.float64),
            "nonlinear_share": torch.tensor(
                [r.nonlinear_share for r in rendered], dtype=torch.float64
            ),
            "shard": spec.shard,
            "last_in_shard": spec.last_in_shard,
        }


class PairDataModule(L.LightningDataModule):
    """Batches of the shards not yet on disk; under DDP each rank takes every k-th shard."""

    def __init__(
        self,
        specs: Sequence[BatchSpec],
        done_shards: set[int],
        load_track: Callable[[int], np.ndarray],
        conditions: Sequence[Condition],
        sample_rate: int,
        render_threads: int = 2,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.specs = [s for s in specs if s.shard not in done_shards]
        self.load_track = load_track
        self.conditions = conditions
        self.sample_rate = sample_rate
        self.render_threads = render_threads
        self.num_workers = num_workers

    def predict_dataloader(self) -> DataLoader:
        rank, world = 0, 1
        if self.trainer is not None:
            rank, world = self.trainer.global_rank, self.trainer.world_size
        mine = [s for s in self.specs if s.shard % world == rank]
        dataset = RenderedPairs(
            mine, self.load_track, self.conditions, self.sample_rate, self.render_threads
        )
        on_gpu = self.trainer is not None and self.trainer.strategy.root_device.type == "cuda"
        return DataLoader(  # pinned batches: the copy to the GPU overlaps the next render
            dataset,
            batch_size=None,
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=on_gpu,
        )


def prepared_track_loader(
    prepared_dir: Path, sample_rate: int, track_ids: Sequence[str]
) -> Callable[[int], np.ndarray]:
    """Track index → prepared mono audio at ``sample_rate`` (decoded once by the prepare stage)."""
    from emofx.prepare import load_prepared_audio

    def load(t: int) -> np.ndarray:
        return load_prepared_audio(prepared_dir, sample_rate, track_ids[t])

    return load
