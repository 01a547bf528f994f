"""Detail figures of the embeddings: displacement heat map, UMAP/t-SNE trajectories and chains."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib import colormaps
from matplotlib.colors import to_hex

from emofx.analysis.figure_grid import (
    mpl_figure,
    panel_grid,
    plotly_grid,
)
from emofx.analysis.figure_io import FigurePair
from emofx.analysis.loading import CLEAN, ConditionInfo
from emofx.analysis.shifts import dose_groups


def heatmap_columns(conditions: dict[str, ConditionInfo]) -> list[str]:
    """Heat-map columns: the strongest level of each effect group, then every other condition."""
    groups = dose_groups(conditions)
    strongest = [members[-1].id for members in groups.values()]
    grouped = {c.id for members in groups.values() for c in members}
    others = [c for c in conditions if c != CLEAN and c not in grouped]
    return strongest + others


def displacement_figure(
    displacement: pd.DataFrame, conditions: dict[str, ConditionInfo]
) -> FigurePair | None:
    """Layers × effects heat map of mean cosine distance clean → condition, per encoder."""
    if displacement.empty:
        return None
    encoders = list(displacement["encoder"].unique())
    columns = [c for c in heatmap_columns(conditions) if c in set(displacement["condition"])]
    width = max(5.0, 0.45 * len(columns) + 2)
    fig, axes = mpl_figure(width * len(encoders), 4.5, 1, len(encoders))
    pfig = plotly_grid(1, len(encoders), encoders)
    for j, encoder in enumerate(encoders):
        rows = displacement[displacement["encoder"] == encoder]
        grid = rows.pivot(index="layer", columns="condition", values="cosine_distance")
        layers = rows.drop_duplicates("layer").sort_values("layer_index")["layer"].tolist()
        grid = grid.reindex(index=layers, columns=columns)  # NaN: condition skipped here
        ax = axes[0, j]
        image = ax.imshow(grid.to_numpy(), aspect="auto", cmap="magma_r")
        ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize=7)
        ax.set_yticks(range(len(layers)), layers, fontsize=7)
        ax.set_title(encoder, fontsize=9)
        fig.colorbar(image, ax=ax, label="cosine distance")
        pfig.add_trace(
            go.Heatmap(
                z=grid.to_numpy(), x=columns, y=layers, colorscale="Magma", reversescale=True
            ),
            row=1,
            col=j + 1,
        )
    caption = (
        "Mean cosine distance between each test track's clean and FX embedding, per layer "
        "(rows) and condition (columns: each effect at its strongest level, then chains and "
        "other conditions). Dark = the layer moves a lot = less robust."
    )
    return FigurePair("Embedding displacement: layers × effects", caption, fig, pfig)


def _trajectory_points(coords: pd.DataFrame, ids: list[str]) -> list[np.ndarray]:
    """Per track the ``[len(ids), 2]`` path through ``ids`` (tracks lacking one are skipped)."""
    sel = coords[coords["condition"].isin(ids)].set_index(["track_id", "condition"])
    return [
        sel.loc[track].loc[ids, ["x", "y"]].to_numpy()
        for track in coords["track_id"].drop_duplicates()
        if all((track, c) in sel.index for c in ids)
    ]


def _draw_paths(
    ax, pfig: go.Figure, paths: list[np.ndarray], labels: list[str], row: int, col: int
):
    """Paths as grey lines with level-coloured points, clean as a black dot, arrow at the end."""
    cmap = colormaps["viridis"]
    colors = ["#000000"] + [
        to_hex(cmap(k / max(len(labels) - 1, 1))) for k in range(1, len(labels))
    ]
    xs, ys, marker_colors, symbols, text = [], [], [], [], []
    for path in paths:
        ax.plot(path[:, 0], path[:, 1], color="0.6", lw=0.7, zorder=1)
        ax.scatter(path[:, 0], path[:, 1], c=colors, s=9, zorder=2)
        ax.annotate(
            "",
            xy=path[-1],
            xytext=path[-2],
            arrowprops={"arrowstyle": "->", "color": colors[-1], "lw": 0.9},
        )
        xs += [*path[:, 0], None]
        ys += [*path[:, 1], None]
        marker_colors += [*colors, "#000000"]
        symbols += ["circle"] + ["arrow"] * (len(labels) - 1) + ["circle"]
        text += [*labels, ""]
    ax.set_xticks([])
    ax.set_yticks([])
    pfig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines+markers",
            line={"color": "#999999", "width": 1},
            marker={"color": marker_colors, "symbol": symbols, "size": 8, "angleref": "previous"},
            text=text,
            hoverinfo="text",
            showlegend=False,
        ),
        row=row,
        col=col,
    )


def _map_figure(
    coords: pd.DataFrame, panels: dict[str, list[str]], title: str, caption: str
) -> FigurePair:
    """One panel per (encoder, ``panels`` key): every track's path through the panel's condition
    ids on the encoder's 2-D map, over all of that map's points in light grey."""
    encoders = list(coords["encoder"].unique())
    grid = panel_grid({e: list(panels) for e in encoders}, lambda e, p: f"{e}: {p}")
    for encoder in encoders:
        rows = coords[coords["encoder"] == encoder]
        for panel, ids in panels.items():
            ax, prow, pcol = grid.cells[(encoder, panel)]
            ax.scatter(rows["x"], rows["y"], s=2, color="0.9", zorder=0)
            _draw_paths(ax, grid.pfig, _trajectory_points(rows, ids), ids, prow, pcol)
    return FigurePair(title, caption, grid.fig, grid.pfig)


def trajectory_figure(
    coords: pd.DataFrame, conditions: dict[str, ConditionInfo], method: str
) -> FigurePair | None:
    """Encoder × effect grid: each test track's path clean → level 1 → … on the 2-D map."""
    groups = dose_groups(conditions)
    if coords.empty or not groups:
        return None
    panels = {g: [CLEAN] + [c.id for c in members] for g, members in groups.items()}
    caption = (
        f"{method.upper()} of each encoder's embeddings (layer "
        f"{coords['layer'].iloc[0]}) for clean and every FX level: one path per test track "
        "from clean (black dot) through increasing levels (dark → yellow), arrow = direction."
    )
    return _map_figure(coords, panels, f"{method.upper()} trajectories: encoder × effect", caption)


def chain_figure(
    coords: pd.DataFrame, conditions: dict[str, ConditionInfo], method: str
) -> FigurePair | None:
    """Per encoder and chain: each track's jump from clean to the chain on the 2-D map."""
    present = set(coords["condition"]) if len(coords) else set()
    chains = [c.id for c in conditions.values() if c.kind == "chain" and c.id in present]
    if not chains:
        return None
    caption = f"{method.upper()} map: each test track's move from clean (black) to the chain."
    return _map_figure(
        coords, {c: [CLEAN, c] for c in chains}, f"{method.upper()}: effect chains", caption
    )
