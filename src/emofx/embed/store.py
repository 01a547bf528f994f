"""The embedding store: per (dataset, encoder) one folder, per condition one array.

``<root>/<condition>.npy``  ``[n_tracks, n_layers, max_dim]`` in ``index.parquet`` order, float32
                            or float16 (``meta.json`` ``dtype``), the layers of :class:`StoreFormat`
``<root>/index.parquet``    ``track_id``, ``split``
``<root>/loudness.parquet`` ``track_id``, ``condition``, ``lufs_in``, ``lufs_out``,
                            ``nonlinear_share`` (:mod:`emofx.fx.levels`) per rendered item
``<root>/meta.json``        encoder description, conditions, inputs hash
``<root>/.partial/``        shards of finished tracks while extraction runs (resume point)
``<root>/frames/``          optional frame-level store (same files; one index row per frame with
                            its ``time_s``), for dynamic (2-Hz) annotations

Every file is written to a temporary name and renamed, so a killed run never leaves a truncated
file; a rerun finds the finished shards and computes only the rest.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from emofx.errors import EmofxError

META = "meta.json"
INDEX = "index.parquet"
LOUDNESS = "loudness.parquet"
PARTIAL = ".partial"
StoreDtype = Literal["float16", "float32"]


class StoreOverflowError(EmofxError):
    """An embedding value does not fit the store's dtype (float16 tops out at 65 504)."""


@dataclass(frozen=True)
class StoreFormat:
    """What a store keeps of the encoder output: the ``dtype`` on disk and which ``layers``
    (names or indices of the encoder's layers; ``None``: all). float16 halves the bytes: its
    relative rounding error is at most 2⁻¹¹ ≈ 4.9e-4 (docs/scaling.md); readers get float32."""

    dtype: StoreDtype = "float32"
    layers: tuple[int | str, ...] | None = None

    @classmethod
    def of(cls, dtype: StoreDtype, layers: str | Sequence[int | str]) -> StoreFormat:
        """From params.yaml: ``layers`` is ``all`` or a list."""
        return cls(dtype, None if layers == "all" else tuple(layers))

    def layer_indices(self, names: Sequence[str]) -> list[int]:
        """Indices of the kept layers among the encoder's ``names``, in the encoder's order."""
        if self.layers is None:
            return list(range(len(names)))
        kept = set()
        for layer in self.layers:
            if isinstance(layer, str):
                if layer not in names:
                    raise ValueError(f"embed layers: {layer!r} is not a layer (have: {names})")
                kept.add(names.index(layer))
            elif -len(names) <= layer < len(names):
                kept.add(layer % len(names))
            else:
                raise ValueError(f"embed layers: {layer} out of range for {len(names)} layers")
        return sorted(kept)

    def describe(self, description: dict) -> dict:
        """An encoder's store description restricted to the kept layers, with the dtype (the
        default format, float32 and all layers, adds nothing: its stores' hashes stay valid)."""
        out = dict(description)
        if self.layers is not None:
            keep = self.layer_indices(description["layer_names"])
            out["layer_names"] = [description["layer_names"][i] for i in keep]
            out["layer_dims"] = [description["layer_dims"][i] for i in keep]
            out["layer_indices"] = keep
        if self.dtype != "float32":
            out["dtype"] = self.dtype
        return out

    def apply(self, embedding: np.ndarray, description: dict) -> np.ndarray:
        """``[n, n_layers, max_dim]`` float32 → the kept layers, trimmed to their widest, cast."""
        if "layer_indices" in description:
            embedding = embedding[:, description["layer_indices"], : max(description["layer_dims"])]
        out = embedding.astype(self.dtype)
        if self.dtype != "float32" and not np.isfinite(out).all() and np.isfinite(embedding).all():
            raise StoreOverflowError(
                f"an embedding value exceeds the {self.dtype} range (largest magnitude "
                f"{np.abs(embedding).max():.3g}): set embed dtype: float32"
            )
        return out


DEFAULT_FORMAT = StoreFormat()


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)``, then rename onto ``path`` (same folder: the rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class EmbeddingStore:
    """Reader/writer of one (dataset, encoder) folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # --- reading ---------------------------------------------------------------------------
    def meta(self) -> dict:
        return json.loads((self.root / META).read_text())

    def index(self) -> pd.DataFrame:
        return pd.read_parquet(self.root / INDEX)

    def conditions(self) -> list[str]:
        return list(self.meta()["conditions"])

    def load(self, condition: str, layer: int | str | None = None, mmap: bool = True) -> np.ndarray:
        """``[n, n_layers, max_dim]`` as stored (float16 or float32; memory-mapped), or float32
        ``[n, dim_l]`` for one layer (index among the stored layers, or name)."""
        path = self.root / f"{condition}.npy"
        if not path.is_file():
            raise FileNotFoundError(
                f"no embeddings for condition {condition!r} in {self.root} "
                f"(have: {', '.join(self.conditions())})"
            )
        arr = np.load(path, mmap_mode="r" if mmap else None)
        if layer is None:
            return arr
        meta = self.meta()
        idx = meta["layer_names"].index(layer) if isinstance(layer, str) else int(layer)
        return np.asarray(arr[:, idx, : meta["layer_dims"][idx]], dtype=np.float32)

    def loudness(self) -> pd.DataFrame:
        return pd.read_parquet(self.root / LOUDNESS)

    def is_complete(self, inputs_hash: str) -> bool:
        """True when a finished store for exactly these inputs is on disk."""
        if not (self.root / META).is_file():
            return False
        meta = self.meta()
        return meta.get("inputs_hash") == inputs_hash and all(
            (self.root / f"{c}.npy").is_file() for c in meta["conditions"]
        )

    # --- writing (used by the runner) ------------------------------------------------------
    @property
    def partial_dir(self) -> Path:
        return self.root / PARTIAL

    def prepare_partial(self, inputs_hash: str) -> None:
        """Keep shards of an interrupted run with the same inputs; discard anything else."""
        marker = self.partial_dir / "inputs_hash"
        if marker.is_file() and marker.read_text() == inputs_hash:
            return
        shutil.rmtree(self.partial_dir, ignore_errors=True)
        self.partial_dir.mkdir(parents=True)
        marker.write_text(inputs_hash)

    def shard_path(self, shard: int) -> Path:
        return self.partial_dir / f"shard_{shard:05d}.npz"

    def done_shards(self) -> set[int]:
        return {int(p.stem.split("_")[1]) for p in self.partial_dir.glob("shard_*.npz")}

    def write_shard(self, shard: int, arrays: dict[str, np.ndarray]) -> None:
        atomic_write(self.shard_path(shard), lambda tmp: _savez(tmp, arrays))

    def assemble(
        self,
        n_shards: int,
        condition_ids: list[str],
        index: pd.DataFrame,
        meta: dict,
    ) -> None:
        """Concatenate shards into per-condition arrays, write index/loudness/meta, drop shards.

        ``index`` lists the tracks (``track_id``, ``split``). Frame-level shards (with a
        ``time_s`` key) hold several rows per track: the written index then has one row per
        frame (``track_id``, ``split``, ``time_s``), identical for every condition.
        """
        shards = [np.load(self.shard_path(s)) for s in range(n_shards)]
        joined = {key: np.concatenate([s[key] for s in shards]) for key in shards[0].files}
        frames = "time_s" in joined
        rows_index = None
        for c, cid in enumerate(condition_ids):
            rows = joined["condition"] == c
            track = joined["track"][rows]
            keys = (joined["time_s"][rows], track) if frames else (track,)
            order = np.lexsort(keys)
            arr = joined["embedding"][rows][order]
            written = index.iloc[track[order]].reset_index(drop=True)
            if frames:
                written = written.assign(time_s=joined["time_s"][rows][order])
            if rows_index is None:
                rows_index = written
            if not frames and arr.shape[0] != len(index):
                raise RuntimeError(f"condition {cid}: {arr.shape[0]} rows for {len(index)} tracks")
            if not written.equals(rows_index):
                raise RuntimeError(f"condition {cid}: its frames differ from {condition_ids[0]}'s")
            atomic_write(self.root / f"{cid}.npy", lambda tmp, a=arr: _save_npy(tmp, a))
        if "lufs_in" in joined:
            loud = pd.DataFrame(
                {
                    "track_id": index["track_id"].to_numpy()[joined["track"]],
                    "condition": np.asarray(condition_ids)[joined["condition"]],
                    "lufs_in": joined["lufs_in"],
                    "lufs_out": joined["lufs_out"],
                    "nonlinear_share": joined["nonlinear_share"],
                }
            ).sort_values(["condition", "track_id"], kind="stable")
            atomic_write(self.root / LOUDNESS, lambda tmp: loud.to_parquet(tmp, index=False))
        atomic_write(self.root / INDEX, lambda tmp: rows_index.to_parquet(tmp, index=False))
        meta = {**meta, "conditions": condition_ids, "n_tracks": len(index)}
        atomic_write(self.root / META, lambda tmp: tmp.write_text(json.dumps(meta, indent=2)))
        for stale in self._stale_arrays(condition_ids):
            stale.unlink()
        shutil.rmtree(self.partial_dir, ignore_errors=True)

    def _stale_arrays(self, keep: Iterable[str]) -> list[Path]:
        keep = {f"{c}.npy" for c in keep}
        return [p for p in self.root.glob("*.npy") if p.name not in keep]


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, arr)
