"""t-SNE of song embeddings, coloured by valence and by arousal (one figure, two panels)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def tsne_2d(x: np.ndarray, seed: int, perplexity: float = 30.0) -> np.ndarray:
    """Standardised embeddings ``[n, d]`` → ``[n, 2]``; perplexity capped below ``n`` (sklearn)."""
    if len(x) < 3:
        raise ValueError(f"t-SNE needs at least 3 embeddings, got {len(x)}")
    z = StandardScaler().fit_transform(x)
    return TSNE(2, perplexity=min(perplexity, (len(x) - 1) / 3), random_state=seed).fit_transform(z)


def save_tsne_figure(
    x: np.ndarray,
    valence: np.ndarray,
    arousal: np.ndarray,
    title: str,
    path: Path,
    seed: int,
    perplexity: float = 30.0,
) -> Path:
    xy = tsne_2d(x, seed, perplexity)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), constrained_layout=True)
    for ax, values, name in zip(axes, (valence, arousal), ("valence", "arousal"), strict=True):
        points = ax.scatter(xy[:, 0], xy[:, 1], c=values, cmap="coolwarm", s=18, vmin=-1, vmax=1)
        fig.colorbar(points, ax=ax, label=name)
        ax.set_title(f"{title}: {name}")
        ax.set_xticks([])
        ax.set_yticks([])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
