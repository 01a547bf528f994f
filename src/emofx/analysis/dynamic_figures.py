"""Detail figures of the dynamic (2 Hz) task: curves of a few songs, Δ song r per condition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from emofx.analysis.dynamic import DynamicSet, curve_songs, largest_shift_conditions
from emofx.analysis.figure_grid import (
    LINE_STYLES,
    PALETTE,
    PANEL_H,
    mpl_figure,
    panel_grid,
    panels_per_set,
    plotly_grid,
    set_label,
)
from emofx.analysis.figure_io import FigurePair
from emofx.analysis.loading import CLEAN, REGRESSION_TARGETS


def _curve_traces(
    dset: DynamicSet, song: str, target: str, conds: list[str]
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(label, time_s, values)`` of one song's annotated frames: annotation, then predictions."""
    column = REGRESSION_TARGETS[target]
    clean = dset.frames[CLEAN].xs(song, level="track_id")
    keep = clean[column].notna().to_numpy()
    times = clean.index.to_numpy()[keep]
    traces = [("annotation", times, clean[column].to_numpy()[keep])]
    for cond in conds:
        values = dset.frames[cond].xs(song, level="track_id")[f"pred_{column}"]
        traces.append((cond, times, values.to_numpy()[keep]))
    return traces


def dynamic_curves_figure(dset: DynamicSet, table: pd.DataFrame) -> FigurePair | None:
    """Up to 3 scored songs × targets: the annotated 2 Hz curve, the clean prediction and the
    predictions under the 2 conditions that shift predictions most."""
    rows = table[(table["encoder"] == dset.encoder) & (table["probe"] == dset.probe)]
    songs = curve_songs(dset)
    if rows.empty or not songs:
        return None
    conds = [CLEAN, *largest_shift_conditions(rows)]
    colors = ["black", *PALETTE[: len(conds)]]
    titles = [f"{song}: {target}" for song in songs for target in dset.targets]
    fig, axes = mpl_figure(
        4.8 * len(dset.targets), PANEL_H * len(songs), len(songs), len(dset.targets)
    )
    pfig = plotly_grid(len(songs), len(dset.targets), titles)
    for i, song in enumerate(songs):
        for j, target in enumerate(dset.targets):
            ax = axes[i, j]
            for k, (label, x, y) in enumerate(_curve_traces(dset, song, target, conds)):
                style = {"color": colors[k], "width": 2.0 if k == 0 else 1.0}
                style["dash"] = "dash" if k > 1 else "solid"
                ls = LINE_STYLES[style["dash"]]
                ax.plot(x, y, color=style["color"], lw=style["width"], ls=ls, label=label)
                pfig.add_trace(
                    go.Scatter(
                        x=x,
                        y=y,
                        mode="lines",
                        name=label,
                        legendgroup=label,
                        showlegend=i == j == 0,
                        line=style,
                    ),
                    row=i + 1,
                    col=j + 1,
                )
            ax.set_title(titles[i * len(dset.targets) + j], fontsize=9)
            ax.set_xlabel("time (s)")
    axes[0, 0].legend(fontsize=7)
    caption = (
        "Annotated 2 Hz curve (black) against the clean prediction (solid) and the predictions "
        "under the two conditions with the largest mean shift (dashed), for the scored songs with "
        "the longest annotated curves."
    )
    title = f"Dynamic curves: {set_label(dset.encoder, dset.probe)}"
    return FigurePair(title, caption, fig, pfig)


def dynamic_delta_figure(table: pd.DataFrame) -> FigurePair | None:
    """Δ mean song Pearson r vs clean per condition (bars, CI), a row per encoder/probe."""
    rows = table[table["condition"] != CLEAN] if len(table) else table
    if rows.empty:
        return None
    per_set = panels_per_set(rows, "target", list(REGRESSION_TARGETS))
    grid = panel_grid(per_set, lambda key, target: f"{set_label(*key)}: Δ song r {target}")
    for (encoder, probe), targets in per_set.items():
        for target in targets:
            sel = rows[
                (rows["encoder"] == encoder) & (rows["probe"] == probe) & (rows["target"] == target)
            ]
            y = sel["delta_song_pearson"].to_numpy()
            err = np.abs(
                sel[["delta_song_pearson_ci_low", "delta_song_pearson_ci_high"]].to_numpy().T - y
            )
            ax, prow, pcol = grid.cells[((encoder, probe), target)]
            ax.bar(sel["condition"], y, yerr=err, color=PALETTE[0], capsize=2)
            ax.axhline(0, color="grey", lw=0.8)
            ax.tick_params(axis="x", labelrotation=90, labelsize=7)
            grid.pfig.add_trace(
                go.Bar(
                    x=sel["condition"],
                    y=y,
                    marker_color=PALETTE[0],
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": err[1],
                        "arrayminus": err[0],
                    },
                    showlegend=False,
                ),
                row=prow,
                col=pcol,
            )
    caption = (
        "Mean per-song Pearson r under each condition minus clean, paired by song (songs with a "
        "constant annotation or prediction left out), 95% bootstrap CI over songs."
    )
    return FigurePair("Dynamic: Δ song Pearson r vs clean", caption, grid.fig, grid.pfig)
