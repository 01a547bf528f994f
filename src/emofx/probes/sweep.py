"""Layer sweep: one probe per layer of the clean embeddings, scored on val; the best layer wins.

The sweep table (``layer, layer_name, probe, task, metric, train, val``) and its figure are written
next to the encoder's predictions and logged to MLflow.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from emofx.embed.store import EmbeddingStore
from emofx.probes.config import ProbeParams
from emofx.probes.fit import fit_probe, load_features
from emofx.probes.metrics import score_split, selection_metric
from emofx.probes.tasks import TaskData


def fixed_layer(store: EmbeddingStore, layer: int | str) -> int:
    """``probe.layer`` given as an index (negative counts from the end) or a name."""
    names = store.meta()["layer_names"]
    if isinstance(layer, str):
        if layer not in names:
            raise ValueError(
                f"probe.layer: {layer!r} is not a layer of {store.root} (layers: {names})"
            )
        return names.index(layer)
    if not -len(names) <= layer < len(names):
        raise ValueError(
            f"probe.layer: {layer} out of range for {len(names)} layers of {store.root}"
        )
    return layer % len(names)


def sweep_layers(
    store: EmbeddingStore, probe: str, data: TaskData, params: ProbeParams, seed: int
) -> pd.DataFrame:
    """Fit ``probe`` (default hyperparameters) on each layer's train rows; score train and val."""
    names = store.meta()["layer_names"]
    metric = selection_metric(data)
    rows = []
    for layer, name in enumerate(names):
        x = load_features(store, "clean", layer)[data.rows]
        fitted = fit_probe(probe, data, x, params, seed)
        scores = {
            split: score_split(data, split, fitted.predict(x[data.mask(split)]))[
                f"{split}/{metric}"
            ]
            for split in ("train", "val")
        }
        rows.append((layer, name, probe, data.task, metric, scores["train"], scores["val"]))
    return pd.DataFrame(
        rows, columns=["layer", "layer_name", "probe", "task", "metric", "train", "val"]
    )


def best_layer(sweep: pd.DataFrame) -> int:
    """The layer with the highest val score (the first on ties)."""
    return int(sweep.loc[sweep["val"].to_numpy().argmax(), "layer"])


def plot_sweep(sweep: pd.DataFrame, encoder: str, path: Path) -> Path:
    """Val (solid) and train (dotted) score per layer, one line per (probe, task)."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for (probe, task, metric), part in sweep.groupby(["probe", "task", "metric"], sort=False):
        (line,) = ax.plot(
            part["layer"], part["val"], marker="o", label=f"{probe} {task} ({metric})"
        )
        ax.plot(part["layer"], part["train"], linestyle=":", color=line.get_color())
        best = part["val"].to_numpy().argmax()
        ax.scatter(part["layer"].iloc[best], part["val"].iloc[best], s=120, facecolors="none",
                   edgecolors=line.get_color())  # fmt: skip
    names = sweep.drop_duplicates("layer").sort_values("layer")
    ax.set_xticks(names["layer"], names["layer_name"], rotation=30, ha="right")
    ax.set_xlabel("layer")
    ax.set_ylabel("score (val solid, train dotted)")
    ax.set_title(f"{encoder}: layer-wise probe performance (best on val circled)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
