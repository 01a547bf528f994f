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

from emofx.encoders.base import Encoder, FrameGrid
from emofx.fx.conditions import Condition

FRAME_KEYS = ("embedding", "track", "condition", "time_s")
FRAME_PREFIX = "frame_"  # FrameEmbedder output keys: frame_embedding, frame_track, …


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
    """``predict_step`` that keeps every frame (no pooling over time), with ``pooled`` also the
    pooled rows of the same render and the same encoder pass (:meth:`Encoder.embed_clips`).

    Frame outputs carry the ``frame_`` prefix. ``frame_tracks``/``frame_conditions`` map the
    batch's track and condition indices to the frame store's (the dynamically annotated tracks,
    the frame conditions); a pair missing from either gets no frames. ``None``: every pair has
    frames, indices unchanged.
    """

    def __init__(
        self,
        encoder: Encoder,
        spec: FrameSpec,
        *,
        pooled: bool = False,
        frame_tracks: dict[int, int] | None = None,
        frame_conditions: dict[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.spec = spec
        self.pooled = pooled
        self.frame_tracks = frame_tracks
        self.frame_conditions = frame_conditions

    def describe(self) -> dict:
        """The encoder's store description, with per-frame widths and the frame grid."""
        return {
            **self.encoder.describe(),
            "pooling": "none",
            "layer_dims": self.encoder.window_layer_dims(),
            "frames": self.spec.describe(),
        }

    def _frame_index(self, track: int, condition: int) -> tuple[int, int] | None:
        t = track if self.frame_tracks is None else self.frame_tracks.get(track)
        c = condition if self.frame_conditions is None else self.frame_conditions.get(condition)
        return None if t is None or c is None else (t, c)

    def predict_step(self, batch: dict, batch_idx: int = 0) -> dict:
        pairs = [
            self._frame_index(int(t), int(c))
            for t, c in zip(batch["track"], batch["condition"], strict=True)
        ]
        lengths = [
            None if p is None else int(n) for p, n in zip(pairs, batch["n_dry"], strict=True)
        ]
        grid = FrameGrid(self.spec.window_s, self.spec.hop_s)
        out = self.encoder.embed_clips(batch["audio"], grid, lengths, pooled=self.pooled)
        dims = self.encoder.window_layer_dims()
        empty = torch.zeros(0, dtype=torch.long)
        embeddings = [torch.zeros(0, len(dims), max(dims))]
        tracks, conditions, times = [empty], [empty], [torch.zeros(0, dtype=torch.float64)]
        for pair, frames in zip(pairs, out.frames, strict=True):
            if pair is None or frames is None:
                continue
            t, emb = frames
            embeddings.append(emb)
            times.append(t + self.spec.offset_s)
            tracks.append(torch.full((len(t),), pair[0]))
            conditions.append(torch.full((len(t),), pair[1]))
        result = {k: v for k, v in batch.items() if k != "audio"}
        if self.pooled:
            result["embedding"] = out.pooled
        return {
            **result,
            **{
                FRAME_PREFIX + key: torch.cat(values)
                for key, values in zip(
                    FRAME_KEYS, (embeddings, tracks, conditions, times), strict=True
                )
            },
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
