"""2-D maps of clean and FX embeddings (UMAP by default, t-SNE as an option), deterministic.

One map per encoder is fitted on the clean and every condition's embedding of a seeded sample of
scored-split tracks, so a track's points across conditions form its trajectory on the map.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from emofx.analysis.config import ProjectionParams
from emofx.analysis.loading import EncoderEmbeddings


def embed_2d(points: np.ndarray, params: ProjectionParams, seed: int) -> np.ndarray:
    """``[n, dim]`` → ``[n, 2]``; same input and seed give the same output.

    Runs single-threaded: determinism, and t-SNE's OpenMP threads oversubscribe a busy machine.
    """
    with threadpool_limits(1):
        return _embed_2d(points, params, seed)


def _embed_2d(points: np.ndarray, params: ProjectionParams, seed: int) -> np.ndarray:
    n = len(points)
    if params.method == "umap":
        import umap  # deferred: importing umap-learn compiles numba code (seconds)

        reducer = umap.UMAP(
            n_neighbors=min(params.n_neighbors, n - 1),
            min_dist=params.min_dist,
            metric=params.metric,
            n_epochs=params.n_epochs,
            random_state=seed,
            n_jobs=1,
        )
        return reducer.fit_transform(points)
    from sklearn.manifold import TSNE

    tsne = TSNE(
        perplexity=min(params.perplexity, (n - 1) / 3),
        metric=params.metric,
        init="pca",
        random_state=seed,
        n_jobs=1,
    )
    return tsne.fit_transform(points)


def sample_tracks(track_ids: pd.Index, max_tracks: int, seed: int) -> pd.Index:
    """At most ``max_tracks`` ids, drawn with ``seed``, kept in their original order."""
    if len(track_ids) <= max_tracks:
        return track_ids
    chosen = np.random.default_rng(seed).choice(len(track_ids), max_tracks, replace=False)
    return track_ids[np.sort(chosen)]


def project_store(
    store: EncoderEmbeddings, track_ids: pd.Index, params: ProjectionParams, seed: int
) -> pd.DataFrame:
    """``encoder, layer, track_id, condition, x, y`` for every stored condition of the sample."""
    ids = sample_tracks(track_ids, params.max_tracks, seed)
    layer = store.layer_index(params.layer)
    points = np.concatenate([store.layer(c, layer, ids) for c in store.conditions])
    xy = embed_2d(points, params, seed)
    return pd.DataFrame(
        {
            "encoder": store.encoder,
            "layer": store.layer_names[layer],
            "track_id": np.tile(ids.to_numpy(), len(store.conditions)),
            "condition": np.repeat(store.conditions, len(ids)),
            "x": xy[:, 0],
            "y": xy[:, 1],
        }
    )
