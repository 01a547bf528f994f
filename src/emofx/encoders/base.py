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
from typing import Any, Literal

import lightning as L
import numpy as np
import torch

Pooling = Literal["mean", "meanstd"]


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

    @torch.inference_mode()
    def embed(self, audios: Sequence[torch.Tensor]) -> torch.Tensor:
        """Mono clips (any lengths) → ``[batch, n_layers, max_dim]`` float32, zero-padded."""
        counts, windows = [], []
        for audio in audios:
            audio = audio.to(self.device, torch.float32).flatten()
            if self.window_s is None:
                w = [audio]
            else:
                w = split_windows(
                    audio,
                    int(round(self.window_s * self.sample_rate)),
                    int(round(self.hop_s * self.sample_rate)),
                )
            counts.append(len(w))
            windows.extend(w)
        per_layer = self._encode_in_batches(windows)
        dims = self.layer_dims()
        out = torch.zeros(len(audios), len(dims), max(dims), dtype=torch.float32)
        for layer, values in enumerate(per_layer):
            for item, chunk in enumerate(torch.split(values, counts)):
                pooled = chunk.mean(0)
                if self.pooling == "meanstd":
                    std = (
                        chunk.std(0, unbiased=False)
                        if chunk.shape[0] > 1
                        else torch.zeros_like(pooled)
                    )
                    pooled = torch.cat([pooled, std])
                out[item, layer, : pooled.shape[0]] = pooled.float().cpu()
        return out

    @torch.inference_mode()
    def embed_frames(
        self, audio: torch.Tensor, window_s: float, hop_s: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One clip → frame end times ``[n_frames]`` (s) and ``[n_frames, n_layers, max_dim]``.

        Frames are ``window_s`` long every ``hop_s`` (see :func:`frame_starts`); each is encoded
        into one vector per layer by :meth:`encode_frames`, without pooling over frames. A frame's
        time is its end: a listener's rating at ``t`` reflects the music heard up to ``t``.
        """
        audio = audio.to(self.device, torch.float32).flatten()
        window = int(round(window_s * self.sample_rate))
        hop = hop_s * self.sample_rate
        starts = frame_starts(audio.shape[-1], window, hop)
        per_layer = self.encode_frames(audio, starts, window)
        dims = self.window_layer_dims()
        out = torch.zeros(len(starts), len(dims), max(dims), dtype=torch.float32)
        for layer, values in enumerate(per_layer):
            out[:, layer, : values.shape[1]] = values.float().cpu()
        ends = torch.tensor([min(s + window, audio.shape[-1]) for s in starts], dtype=torch.float64)
        return ends / self.sample_rate, out

    def encode_frames(
        self, audio: torch.Tensor, starts: list[int], window: int
    ) -> list[torch.Tensor]:
        """Frames ``audio[s : s + window]`` → one ``[n_frames, dim_l]`` tensor per layer.

        The default encodes each frame as a window; encoders that compute features on a shared
        time axis (handcrafted) override it to compute once and pool per frame.
        """
        return self._encode_in_batches([audio[s : s + window] for s in starts])

    def _encode_in_batches(self, windows: list[torch.Tensor]) -> list[torch.Tensor]:
        results = [
            self.encode_windows(windows[i : i + self.window_batch_size])
            for i in range(0, len(windows), self.window_batch_size)
        ]
        return [torch.cat([r[layer] for r in results]) for layer in range(len(results[0]))]

    def predict_step(self, batch: dict, batch_idx: int = 0) -> dict:
        """Embed DataModule batch ``{"audio": [tensors], ...keys}`` → keys + ``embedding``."""
        return {
            **{k: v for k, v in batch.items() if k != "audio"},
            "embedding": self.embed(batch["audio"]),
        }
