"""The one Encoder interface every model sits behind.

An encoder is a frozen LightningModule. It sees mono float audio at its own ``sample_rate``; long
audio is cut into ``window_s``/``hop_s`` windows here, each window is encoded into one vector per
layer by :meth:`Encoder.encode_windows`, and windows are pooled per item (mean, or mean and std).
Audio shorter than a window is passed on at its real length, never zero-padded here: each encoder
pads (or not) the way its model was trained (repeat-padding, an attention mask, the real length).
The working rate must be known before a model is built (prepare decodes at it):
:meth:`Encoder.config_sample_rate` reads it from the init arguments and small config files only.
Layers may differ in width (e.g. Musicnn front end 561, embedding 200, tags 50): the stored array is
``[n_layers, max_dim]`` zero-padded, with the true widths in :meth:`layer_dims` (recorded in the
embedding store's ``meta.json``).
"""

from __future__ import annotations

import hashlib
import inspect
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

import lightning as L
import numpy as np
import torch

Pooling = Literal["mean", "meanstd"]
Span = tuple[int, int]  # [start, end) in samples


class FrameGrid(NamedTuple):
    """Frames ``window_s`` long every ``hop_s`` (the dynamic annotations' grid)."""

    window_s: float
    hop_s: float


class ClipEmbeddings(NamedTuple):
    """:meth:`Encoder.embed_clips`: ``pooled`` ``[batch, n_layers, max_dim]`` (or None) and per
    clip ``(frame end times [n_frames] in s, [n_frames, n_layers, max_dim])`` or None."""

    pooled: torch.Tensor | None
    frames: list[tuple[torch.Tensor, torch.Tensor] | None]


def window_starts(n_samples: int, window: int, hop: int) -> list[int]:
    """Window start offsets covering the whole signal (the last one aligned to its end)."""
    if n_samples <= window:
        return [0]
    starts = list(range(0, n_samples - window + 1, hop))
    if starts[-1] != n_samples - window:
        starts.append(n_samples - window)
    return starts


def frame_starts(n_samples: int, window: int, hop: float) -> list[int]:
    """Start offsets of a regular frame grid: frame ``k`` is ``[round(k·hop), … + window)``.

    Unlike :func:`window_starts` no extra window is aligned to the end, so frame times stay on
    the grid the dynamic annotations use (2 Hz); ``hop`` may be fractional (0.25 s at 22.05 kHz)
    without drifting. Audio shorter than a window is one frame.
    """
    if n_samples <= window:
        return [0]
    n_frames = int(np.floor((n_samples - window) / hop + 1e-9)) + 1
    return [int(round(k * hop)) for k in range(n_frames)]


def cut_windows(audio: torch.Tensor, window: int, hop: int) -> torch.Tensor:
    """``[samples]`` → ``[n_windows, window]``; audio shorter than a window is zero-padded.

    For fixed-size inputs (the spectrogram models' chunk images); encoders use
    :func:`split_windows`, which keeps a short clip at its real length.
    """
    if audio.shape[-1] < window:
        audio = torch.nn.functional.pad(audio, (0, window - audio.shape[-1]))
    return torch.stack(split_windows(audio, window, hop))


def split_windows(audio: torch.Tensor, window: int, hop: int) -> list[torch.Tensor]:
    """``[samples]`` → windows of ``window`` samples; audio shorter than a window is one window
    of its own length (only such a clip yields a short window)."""
    return [audio[s : s + window] for s in window_starts(audio.shape[-1], window, hop)]


def encode_by_length(
    windows: Sequence[torch.Tensor], encode: Callable[[torch.Tensor], list[torch.Tensor]]
) -> list[torch.Tensor]:
    """Run ``encode`` (``[n, samples]`` → per-layer ``[n, dim]``) once per group of equally long
    windows, so every window is encoded at its real length; outputs keep the input order."""
    groups: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        groups.setdefault(w.shape[-1], []).append(i)
    order, results = [], []
    for indices in groups.values():
        order.extend(indices)
        results.append(encode(torch.stack([windows[i] for i in indices])))
    inverse = torch.argsort(torch.tensor(order))
    return [torch.cat([r[layer] for r in results])[inverse] for layer in range(len(results[0]))]


class Encoder(L.LightningModule):
    """Base class: subclasses set ``name``/``sample_rate``/windowing and implement the hooks."""

    name: str = "encoder"
    sample_rate: int = 16_000

    def __init__(
        self,
        window_s: float | None = None,
        hop_s: float | None = None,
        pooling: Pooling = "mean",
        window_batch_size: int = 16,
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "meanstd"):
            raise ValueError(f"pooling must be 'mean' or 'meanstd', got {pooling!r}")
        self.window_s = window_s
        self.hop_s = hop_s if hop_s is not None else window_s
        self.pooling: Pooling = pooling
        self.window_batch_size = window_batch_size

    # --- hooks ---------------------------------------------------------------------------
    @abstractmethod
    def layer_names(self) -> list[str]:
        """Names of the exposed layers, in output order."""

    @abstractmethod
    def window_layer_dims(self) -> list[int]:
        """Width of each layer's per-window vector (before window pooling)."""

    @abstractmethod
    def encode_windows(self, windows: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """``n`` mono windows → one ``[n, dim_l]`` tensor per layer (time-pooled inside).

        Windows are ``window_s`` long except for clips shorter than a window, which come at
        their real length (a ``[n, samples]`` tensor is a valid argument too).
        """

    @classmethod
    def config_sample_rate(cls, init_args: Mapping[str, Any]) -> int:
        """The rate an encoder built with ``init_args`` will work at, without building it.

        Default: an explicit ``sample_rate`` argument, else the ``__init__`` default of one,
        else the class attribute. Encoders whose rate comes from a checkpoint override this to
        read the checkpoint's small config files (never the weights).
        """
        rate = cls.init_arg(init_args, "sample_rate")
        return int(cls.sample_rate if rate is inspect.Parameter.empty else rate)

    @classmethod
    def init_arg(cls, init_args: Mapping[str, Any], name: str) -> Any:
        """``init_args[name]``, else the ``__init__`` default (``Parameter.empty``: neither)."""
        if name in init_args:
            return init_args[name]
        parameter = inspect.signature(cls.__init__).parameters.get(name)
        return inspect.Parameter.empty if parameter is None else parameter.default

    def checkpoint_id(self) -> str:
        """Content hash of the weights (sha256 over the state dict); recorded in the store meta."""
        h = hashlib.sha256()
        for key, value in sorted(self.state_dict().items()):
            h.update(key.encode())
            h.update(
                value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
            )
        return h.hexdigest()[:16]

    # --- shared machinery ----------------------------------------------------------------
    def layer_dims(self) -> list[int]:
        factor = 2 if self.pooling == "meanstd" else 1
        return [d * factor for d in self.window_layer_dims()]

    def describe(self) -> dict:
        """What the embedding store's meta.json records about this encoder."""
        return {
            "encoder": self.name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "checkpoint_hash": self.checkpoint_id(),
            "sample_rate": self.sample_rate,
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "pooling": self.pooling,
            "layer_names": self.layer_names(),
            "layer_dims": self.layer_dims(),
        }

    def pooled_spans(self, n_samples: int) -> list[Span]:
        """The ``(start, end)`` windows pooled into a clip's row (no windows: the whole clip)."""
        if self.window_s is None:
            return [(0, n_samples)]
        window = int(round(self.window_s * self.sample_rate))
        hop = int(round(self.hop_s * self.sample_rate))
        return [(s, min(s + window, n_samples)) for s in window_starts(n_samples, window, hop)]

    @torch.inference_mode()
    def embed(self, audios: Sequence[torch.Tensor]) -> torch.Tensor:
        """Mono clips (any lengths) → ``[batch, n_layers, max_dim]`` float32, zero-padded."""
        return self.embed_clips(audios).pooled

    @torch.inference_mode()
    def embed_frames(
        self, audio: torch.Tensor, window_s: float, hop_s: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One clip → frame end times ``[n_frames]`` (s) and ``[n_frames, n_layers, max_dim]``.

        Frames are ``window_s`` long every ``hop_s`` (see :func:`frame_starts`); each is encoded
        into one vector per layer, without pooling over frames. A frame's time is its end: a
        listener's rating at ``t`` reflects the music heard up to ``t``.
        """
        n = audio.shape[-1]
        return self.embed_clips([audio], FrameGrid(window_s, hop_s), [n], pooled=False).frames[0]

    @torch.inference_mode()
    def embed_clips(
        self,
        audios: Sequence[torch.Tensor],
        grid: FrameGrid | None = None,
        frame_lengths: Sequence[int | None] | None = None,
        pooled: bool = True,
    ) -> ClipEmbeddings:
        """The pooled rows and/or the frames of a batch of clips from ONE encoder pass.

        Clip ``i`` gets frames on ``grid`` over its first ``frame_lengths[i]`` samples (the dry
        signal; ``None``: no frames). Every distinct ``(start, end)`` window of a clip is
        encoded once: a pooled window that is also a frame (same start and end, e.g. 3-s
        windows every 3 s under 3-s frames every 0.5 s) costs nothing extra, and the pooled row
        is the pool of exactly those window vectors.
        """
        lengths = frame_lengths or [None] * len(audios)
        clips, pooled_rows, frame_rows, frame_ends = [], [], [], []
        for audio, n_dry in zip(audios, lengths, strict=True):
            audio = audio.to(self.device, torch.float32, non_blocking=True).flatten()
            spans: dict[Span, int] = {}
            pooled_rows.append(
                [spans.setdefault(s, len(spans)) for s in self.pooled_spans(audio.shape[-1])]
                if pooled
                else []
            )
            if grid is not None and n_dry is not None:
                window = int(round(grid.window_s * self.sample_rate))
                starts = frame_starts(int(n_dry), window, grid.hop_s * self.sample_rate)
                frame = [(s, min(s + window, int(n_dry))) for s in starts]
                frame_rows.append([spans.setdefault(s, len(spans)) for s in frame])
                frame_ends.append(torch.tensor([e for _, e in frame], dtype=torch.float64))
            else:
                frame_rows.append(None)
                frame_ends.append(None)
            clips.append((audio, list(spans)))
        encoded = self.encode_clips(clips)
        dims = self.window_layer_dims()
        out = None
        if pooled:
            out = torch.zeros(len(audios), len(dims), max(self.layer_dims()), dtype=torch.float32)
            for item, (per_layer, rows) in enumerate(zip(encoded, pooled_rows, strict=True)):
                for layer, values in enumerate(per_layer):
                    vector = self._pool(values[rows])
                    out[item, layer, : vector.shape[0]] = vector.float().cpu()
        frames: list[tuple[torch.Tensor, torch.Tensor] | None] = []
        for per_layer, rows, ends in zip(encoded, frame_rows, frame_ends, strict=True):
            if rows is None:
                frames.append(None)
                continue
            emb = torch.zeros(len(rows), len(dims), max(dims), dtype=torch.float32)
            for layer, values in enumerate(per_layer):
                emb[:, layer, : values.shape[1]] = values[rows].float().cpu()
            frames.append((ends / self.sample_rate, emb))
        return ClipEmbeddings(out, frames)

    def _pool(self, chunk: torch.Tensor) -> torch.Tensor:
        pooled = chunk.mean(0)
        if self.pooling == "meanstd":
            std = chunk.std(0, unbiased=False) if chunk.shape[0] > 1 else torch.zeros_like(pooled)
            pooled = torch.cat([pooled, std])
        return pooled

    def encode_clips(
        self, clips: Sequence[tuple[torch.Tensor, list[Span]]]
    ) -> list[list[torch.Tensor]]:
        """``(audio, spans)`` per clip → per clip, one ``[n_spans, dim_l]`` tensor per layer.

        The default cuts every span as a window and encodes the windows of all clips together,
        sorted by length into batches of ``window_batch_size`` (a batch never mixes lengths, so
        nothing is padded). Encoders that compute features on a shared time axis (handcrafted)
        override it to compute once per clip and pool per span.
        """
        windows = [audio[s:e] for audio, spans in clips for s, e in spans]
        by_length: dict[int, list[int]] = {}
        for i, w in enumerate(windows):
            by_length.setdefault(w.shape[-1], []).append(i)
        order, results = [], []
        for _, indices in sorted(by_length.items()):
            for k in range(0, len(indices), self.window_batch_size):
                chunk = indices[k : k + self.window_batch_size]
                order += chunk
                results.append(self.encode_windows(torch.stack([windows[i] for i in chunk])))
        inverse = torch.argsort(torch.tensor(order))
        counts = [len(spans) for _, spans in clips]
        per_layer = [
            torch.cat([r[layer] for r in results])[inverse] for layer in range(len(results[0]))
        ]
        return [list(clip) for clip in zip(*(v.split(counts) for v in per_layer), strict=True)]

    def predict_step(self, batch: dict, batch_idx: int = 0) -> dict:
        """Embed DataModule batch ``{"audio": [tensors], ...keys}`` → keys + ``embedding``."""
        return {
            **{k: v for k, v in batch.items() if k != "audio"},
            "embedding": self.embed(batch["audio"]),
        }
