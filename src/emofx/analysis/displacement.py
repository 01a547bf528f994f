"""How far each condition moves a track's embedding from its clean embedding, layer by layer."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics.pairwise import paired_cosine_distances
from sklearn.preprocessing import normalize

from emofx.analysis.config import AnalysisParams
from emofx.analysis.loading import CLEAN, ConditionInfo, EncoderEmbeddings
from emofx.analysis.shifts import dose_groups
from emofx.analysis.statistics import mean_ci


def _layers(store: EncoderEmbeddings, array: np.ndarray) -> list[np.ndarray]:
    """``[n, n_layers, max_dim]`` → one ``[n, true_width]`` array per layer."""
    return [array[:, i, :dim] for i, dim in enumerate(store.meta["layer_dims"])]


def displacement_table(
    store: EncoderEmbeddings, track_ids: pd.Index, params: AnalysisParams, seed: int
) -> pd.DataFrame:
    """Per (layer, condition ≠ clean): mean cosine distance clean → condition over tracks + CI."""
    clean = _layers(store, store.rows(CLEAN, track_ids))
    rows = []
    for cond in store.conditions:
        if cond == CLEAN:
            continue
        for layer, (name, before, after) in enumerate(
            zip(store.layer_names, clean, _layers(store, store.rows(cond, track_ids)), strict=True)
        ):
            distance = paired_cosine_distances(before, after)
            low, high = mean_ci(distance, params, seed)
            rows.append(
                {
                    "encoder": store.encoder,
                    "layer": name,
                    "layer_index": layer,
                    "condition": cond,
                    "n": len(distance),
                    "cosine_distance": distance.mean(),
                    "ci_low": low,
                    "ci_high": high,
                }
            )
    return pd.DataFrame(rows)


def trajectory_table(
    store: EncoderEmbeddings,
    conditions: dict[str, ConditionInfo],
    track_ids: pd.Index,
    params: AnalysisParams,
    seed: int,
) -> pd.DataFrame:
    """Per (layer, effect group): the path clean → level 1 → … → level k of each track.

    ``length``: summed cosine distance between consecutive points (mean over tracks, with CI);
    ``variance``: spread of the unit-normalised points around their centroid (mean over tracks).
    """
    rows = []
    clean = _layers(store, store.rows(CLEAN, track_ids))
    for group, members in dose_groups(conditions).items():
        ids = [c.id for c in members if c.id in store.conditions]
        if len(ids) < 2:
            continue
        levels = [clean] + [_layers(store, store.rows(c, track_ids)) for c in ids]
        for layer, name in enumerate(store.layer_names):
            path = [points[layer] for points in levels]  # (k + 1) × [n, dim]
            steps = zip(path[:-1], path[1:], strict=True)
            length = sum(paired_cosine_distances(a, b) for a, b in steps)
            unit = np.stack([normalize(p) for p in path], axis=1)  # [n, k + 1, dim]
            variance = ((unit - unit.mean(axis=1, keepdims=True)) ** 2).sum(-1).mean(-1)
            low, high = mean_ci(length, params, seed)
            rows.append(
                {
                    "encoder": store.encoder,
                    "layer": name,
                    "layer_index": layer,
                    "group": group,
                    "levels": len(ids),
                    "length": length.mean(),
                    "ci_low": low,
                    "ci_high": high,
                    "variance": variance.mean(),
                }
            )
    return pd.DataFrame(rows)
