"""Shared layout of the detail figures: panel grids drawn twice (matplotlib and plotly), one
palette, one panel size."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from plotly.subplots import make_subplots

PALETTE = [to_hex(c) for c in colormaps["tab10"].colors]
PANEL_W, PANEL_H = 3.4, 2.8  # inches per matplotlib panel
MAX_COLS = 6
LINE_STYLES = {"solid": "-", "dash": "--"}  # plotly dash → matplotlib linestyle


def plotly_grid(rows: int, cols: int, titles: list[str], **kwargs) -> go.Figure:
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, **kwargs)
    return fig.update_layout(height=280 * rows + 80, width=max(340 * cols, 600))


@dataclass
class PanelGrid:
    """Panels in blocks (one block per encoder or encoder/probe), wrapped at ``MAX_COLS``."""

    fig: Figure
    pfig: go.Figure
    cells: dict[tuple, tuple[Axes, int, int]]  # (block, panel) → (axes, plotly row, plotly col)

    @property
    def first(self) -> Axes:
        return next(iter(self.cells.values()))[0]


def panel_grid(
    blocks: dict[tuple | str, list[str]], title: Callable[..., str], polar: bool = False
) -> PanelGrid:
    """Each block starts a new row; its panels fill rows of at most ``MAX_COLS``."""
    n_cols = min(MAX_COLS, max(len(panels) for panels in blocks.values()))
    places, n_rows = [], 0
    for block, panels in blocks.items():
        places += [(block, p, n_rows + k // n_cols, k % n_cols) for k, p in enumerate(panels)]
        n_rows += -(-len(panels) // n_cols)
    fig = Figure(figsize=(PANEL_W * n_cols, PANEL_H * n_rows), layout="constrained")
    axes = fig.subplots(
        n_rows, n_cols, squeeze=False, subplot_kw={"projection": "polar"} if polar else None
    )
    titles = [""] * (n_rows * n_cols)
    for block, panel, r, c in places:
        titles[r * n_cols + c] = title(block, panel)
    specs = [[{"type": "polar" if polar else "xy"}] * n_cols] * n_rows
    pfig = plotly_grid(n_rows, n_cols, titles, specs=specs)
    cells = {}
    for block, panel, r, c in places:
        axes[r, c].set_title(titles[r * n_cols + c], fontsize=9)
        cells[(block, panel)] = (axes[r, c], r + 1, c + 1)
    used = {(r, c) for *_, r, c in places}
    for (r, c), ax in np.ndenumerate(axes):
        if (r, c) not in used:
            ax.set_axis_off()
    return PanelGrid(fig, pfig, cells)


def mpl_figure(width: float, height: float, rows: int, cols: int) -> tuple[Figure, np.ndarray]:
    """A matplotlib figure (no pyplot: no global state, any backend) with a 2-D axes array."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False)


def set_label(encoder: str, probe: str) -> str:
    return f"{encoder} / {probe}"


def panels_per_set(
    table: pd.DataFrame, column: str, panels: list[str] | tuple[str, ...]
) -> dict[tuple[str, str], list[str]]:
    """``{(encoder, probe): the panels (values of ``column``) that set has, in panels order}``."""
    return {
        key: [p for p in panels if p in set(rows[column])]
        for key, rows in table.groupby(["encoder", "probe"])
        if rows[column].isin(panels).any()
    }
