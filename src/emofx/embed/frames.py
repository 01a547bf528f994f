"""Frame-level embeddings for dynamic (2-Hz) annotations.

The frame store sits beside the time-pooled one (``<encoder>/frames/``) and is written by the same
runner, DataModule and shard machinery: only the LightningModule differs. :class:`FrameEmbedder`
wraps an encoder and returns one row per frame (``window_s`` long, every ``hop_s``) instead of one
pooled row per (track, condition). FX tails beyond the dry signal are cut, so every condition has
the frames of the clean audio and the rows line up across conditions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import lightning as L
import pandas as pd
import torch

from emofx.encoders.base import Encoder
from emofx.fx.conditions import Condition

FRAME_KEYS = ("embedding", "track", "condition", "time_s")


@dataclass(frozen=True)
class FrameSpec:
    """Frame grid: ``window_s`` long frames every ``hop_s``; times shifted by ``offset_s``.

    ``offset_s`` is where the prepared audio starts in the source file (``dataset.offset_s``), so
    frame times are on the annotations' clock.
    """

    window_s: float = 3.0
    hop_s: float = 0.5
    offset_s: float = 0.0

    def describe(self) -> dict:
        return asdict(self)


class FrameEmbedder(L.LightningModule):
    """``predict_step`` of an encoder that keeps every frame (no pooling over time)."""

    def __init__(self, encoder: Encoder, spec: FrameSpec) -> None:
        super().__init__()
        self.encoder = encoder
        self.spec = spec

    def describe(self) -> dict:
        """The encoder's store description, with per-frame widths and the frame grid."""
        return {
            **self.encoder.describe(),
            "pooling": "none",
            "layer_dims": self.encoder.window_layer_dims(),
            "frames": self.spec.describe(),
        }

    def predict_step(self, batch: dict, batch_idx: int = 0) -> dict:
        embeddings, tracks, conditions, times = [], [], [], []
        for audio, n_dry, track, condition in zip(
            batch["audio"], batch["n_dry"], batch["track"], batch["condition"], strict=True
        ):
            t, emb = self.encoder.embed_frames(
                audio[: int(n_dry)], self.spec.window_s, self.spec.hop_s
            )
            embeddings.append(emb)
            times.append(t + self.spec.offset_s)
            tracks.append(torch.full((len(t),), int(track)))
            conditions.append(torch.full((len(t),), int(condition)))
        return {
            "embedding": torch.cat(embeddings),
            "track": torch.cat(tracks),
            "condition": torch.cat(conditions),
            "time_s": torch.cat(times),
            "n_samples": batch["n_samples"],
            "shard": batch["shard"],
            "last_in_shard": batch["last_in_shard"],
        }


def frame_conditions(conditions: list[Condition], ids: list[str] | None) -> list[Condition]:
    """The conditions to embed frame by frame: all (``ids`` None) or ``clean`` + ``ids``."""
    if ids is None:
        return list(conditions)
    known = {c.id: c for c in conditions}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ValueError(
            f"embed.frames.conditions: {unknown} not in data/conditions.json "
            f"(have: {', '.join(known)})"
        )
    wanted = {"clean", *ids}
    return [c for c in conditions if c.id in wanted]


def dynamic_tracks(manifest: pd.DataFrame) -> pd.DataFrame:
    """The manifest rows with a dynamic annotation (``dynamic_ref``)."""
    if "dynamic_ref" not in manifest.columns:
        return manifest.iloc[:0]
    return manifest[manifest["dynamic_ref"].notna()].reset_index(drop=True)
