"""Diverging heat maps (colour centred at 0) drawn twice: matplotlib PNG and plotly HTML."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from matplotlib.figure import Figure
from plotly.subplots import make_subplots

from emofx.analysis.figure_io import FigurePair

CELL_W, CELL_H = 0.62, 0.34  # inches per heat-map cell
FONT = 9


@dataclass(frozen=True)
class HeatPanel:
    """One heat map: ``values[row, column]`` (NaN = not measured), the text printed in each cell
    and the text shown on hover in the interactive version."""

    title: str
    rows: list[str]
    columns: list[str]
    values: np.ndarray
    text: list[list[str]]
    hover: list[list[str]]


def colour_limit(values: np.ndarray, percentile: float = 95.0) -> float:
    """Half-width of the symmetric colour scale: a high percentile of the finite |values| (1 when
    there is nothing to scale)."""
    finite = np.abs(values[np.isfinite(values)])
    limit = float(np.percentile(finite, percentile)) if finite.size else 0.0
    return limit if limit > 0 else float(finite.max(initial=0.0)) or 1.0


def heatmap_figure(
    panels: list[HeatPanel], title: str, caption: str, colorbar: str, cmap: str = "RdBu"
) -> FigurePair:
    """Panels side by side on one colour scale symmetric around 0 (white = no change); the scale
    ends at the 95th percentile of |value| so one extreme cell does not wash out the rest (cells
    beyond it saturate; every cell prints its value)."""
    limit = colour_limit(np.concatenate([p.values.ravel() for p in panels]))
    n_rows = max(len(p.rows) for p in panels)
    width = sum(CELL_W * len(p.columns) for p in panels) + 2.6 + 1.2 * len(panels)
    height = CELL_H * n_rows + 1.9
    fig = Figure(figsize=(max(width, 6.0), height), layout="constrained")
    axes = fig.subplots(
        1, len(panels), squeeze=False, width_ratios=[max(len(p.columns), 1) for p in panels]
    )[0]
    for ax, panel in zip(axes, panels, strict=True):
        image = ax.imshow(panel.values, aspect="auto", cmap=cmap, vmin=-limit, vmax=limit)
        ax.set_xticks(range(len(panel.columns)), panel.columns, rotation=45, ha="right")
        same_rows = ax is not axes[0] and panel.rows == panels[0].rows
        ax.set_yticks(range(len(panel.rows)), [] if same_rows else panel.rows)
        ax.tick_params(labelsize=FONT)
        ax.set_title(panel.title, fontsize=FONT + 1)
        for (r, c), text in np.ndenumerate(np.array(panel.text, dtype=object)):
            value = panel.values[r, c]
            dark = np.isfinite(value) and abs(value) > 0.6 * limit
            ax.text(c, r, text, ha="center", va="center", fontsize=FONT - 2,
                    color="white" if dark else "black")  # fmt: skip
    fig.supxlabel("condition (effect@level)", fontsize=FONT)  # once: narrow panels would overlap
    fig.colorbar(image, ax=list(axes), label=colorbar, shrink=0.9, extend="both")
    pfig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p.title for p in panels])
    for k, panel in enumerate(panels):
        pfig.add_trace(
            go.Heatmap(
                z=panel.values,
                x=panel.columns,
                y=panel.rows,
                text=panel.text,
                texttemplate="%{text}",
                hovertext=panel.hover,
                hoverinfo="text",
                colorscale=cmap,
                zmin=-limit,
                zmax=limit,
                zmid=0,
                showscale=k == len(panels) - 1,
                colorbar={"title": {"text": colorbar}},
            ),
            row=1,
            col=k + 1,
        )
        pfig.update_yaxes(autorange="reversed", row=1, col=k + 1)
    pfig.update_layout(height=int(40 * n_rows + 220), width=int(max(width, 6.0) * 100))
    return FigurePair(title, caption, fig, pfig)
