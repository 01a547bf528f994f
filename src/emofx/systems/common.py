"""What every system shares: targets joined to store rows, scoring, prediction files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emofx.embed.store import EmbeddingStore
from emofx.probes.metrics import score_split
from emofx.probes.run import write_predictions
from emofx.probes.tasks import SPLITS, TaskData, build_task, prediction_columns


def open_store(embeddings_root: Path, encoder: str, key: str) -> EmbeddingStore:
    """The encoder's embedding store, or an error telling how to produce it (``key``: params)."""
    store = EmbeddingStore(Path(embeddings_root) / encoder)
    if not (store.root / "meta.json").is_file():
        raise FileNotFoundError(
            f"{key}: no embedding store at {store.root} "
            f"(add {encoder!r} to embed.encoders and run the embed stage)"
        )
    return store


def regression_task(index: pd.DataFrame, manifest: pd.DataFrame, targets: list[str]) -> TaskData:
    """Store rows with both targets labelled, their targets and (manifest-fixed) splits."""
    return build_task("regression", index, manifest, targets)


def score_all_splits(data: TaskData, pred: np.ndarray) -> dict[str, float]:
    """``train/…``, ``val/…``, ``test/…`` metrics of predictions ``[n_rows, n_targets]``."""
    metrics: dict[str, float] = {}
    for split in SPLITS:
        metrics |= score_split(data, split, pred[data.mask(split)])
    return metrics


def write_condition_predictions(
    index: pd.DataFrame, data: TaskData, preds: dict[str, np.ndarray], out_dir: Path
) -> None:
    """One parquet per condition (``track_id, split, condition, pred_<target>``), labelled rows."""
    rows = index.iloc[data.rows].reset_index(drop=True)
    write_predictions(
        rows, {c: prediction_columns(data, p) for c, p in preds.items()}, Path(out_dir)
    )
