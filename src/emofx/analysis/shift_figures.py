"""Detail figures of prediction changes: dose-response, quadrant radar, shift size, loudness
control, multi-label rates (each a matplotlib PNG + plotly HTML pair, or None without data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib import colormaps
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from emofx.analysis.figure_grid import (
    PALETTE,
    PANEL_H,
    mpl_figure,
    panel_grid,
    panels_per_set,
    plotly_grid,
    set_label,
)
from emofx.analysis.figure_io import FigurePair
from emofx.analysis.loading import CLEAN, QUADRANT_NAMES, ConditionInfo
from emofx.analysis.shifts import MAIN_QUANTITIES, dose_groups


def dose_figure(
    table: pd.DataFrame,
    conditions: dict[str, ConditionInfo],
    panels: list[str],
    panel_column: str,
    value: str,
    title: str,
    caption: str,
) -> FigurePair | None:
    """Dose-response curves: a row per encoder/probe with a panel per ``panels`` value it has,
    one line per effect group: ``value`` with its CI over levels; y = 0 is clean."""
    groups = dose_groups(conditions)
    if table.empty or not groups:
        return None
    table = table[table[panel_column].isin(panels)]
    per_set = panels_per_set(table, panel_column, panels)
    if not per_set:
        return None
    grid = panel_grid(per_set, lambda key, panel: f"{set_label(*key)}: {panel}")
    pfig = grid.pfig
    for (encoder, probe), set_panels in per_set.items():
        rows = table[(table["encoder"] == encoder) & (table["probe"] == probe)]
        for panel in set_panels:
            ax, prow, pcol = grid.cells[((encoder, probe), panel)]
            ax.axhline(0, color="grey", lw=0.8, ls="--")
            by_condition = rows[rows[panel_column] == panel].set_index("condition")
            for k, (group, members) in enumerate(groups.items()):
                members = [c for c in members if c.id in by_condition.index]
                if not members:
                    continue
                sel = by_condition.loc[[c.id for c in members]]
                x = [c.level for c in members]
                y = sel[value].to_numpy()
                err = np.abs(sel[["ci_low", "ci_high"]].to_numpy().T - y)
                color = PALETTE[k % len(PALETTE)]
                ax.errorbar(x, y, yerr=err, color=color, marker="o", ms=3, capsize=2, label=group)
                pfig.add_trace(
                    go.Scatter(
                        x=x,
                        y=y,
                        mode="lines+markers",
                        name=group,
                        legendgroup=group,
                        showlegend=ax is grid.first,
                        line={"color": color},
                        error_y={
                            "type": "data",
                            "symmetric": False,
                            "array": err[1],
                            "arrayminus": err[0],
                        },
                        hovertext=[c.id for c in members],
                    ),
                    row=prow,
                    col=pcol,
                )
            ax.set_xlabel("level")
    grid.first.legend(fontsize=7)
    return FigurePair(title, caption, grid.fig, pfig)


def radar_figure(shifts: pd.DataFrame, conditions: dict[str, ConditionInfo]) -> FigurePair | None:
    """Predicted-quadrant shares per level, one radar per (encoder/probe, effect group)."""
    groups = dose_groups(conditions)
    shares = shifts[shifts["quantity"].str.startswith("share_q")] if len(shifts) else shifts
    if shares.empty or not groups:
        return None
    sets = list(shares.groupby(["encoder", "probe"]).groups)
    names = [QUADRANT_NAMES[q] for q in QUADRANT_NAMES]
    angles = np.linspace(0, 2 * np.pi, len(names), endpoint=False)
    grid = panel_grid(
        {s: list(groups) for s in sets}, lambda key, g: f"{set_label(*key)}: {g}", polar=True
    )
    pfig = grid.pfig
    pfig.update_polars(angularaxis_rotation=45)
    cmap = colormaps["viridis"]
    for encoder, probe in sets:
        rows = shares[(shares["encoder"] == encoder) & (shares["probe"] == probe)]
        table = rows.pivot(index="condition", columns="quantity", values="mean")
        clean = rows.groupby("quantity")["clean_mean"].first()
        for group, members in groups.items():
            ax, prow, pcol = grid.cells[((encoder, probe), group)]
            lines = [(CLEAN, clean)] + [
                (c.id, table.loc[c.id]) for c in members if c.id in table.index
            ]
            for k, (label, values) in enumerate(lines):
                r = [values[f"share_q{q}"] for q in QUADRANT_NAMES]
                color = "black" if k == 0 else to_hex(cmap(k / max(len(lines) - 1, 1)))
                ax.plot(np.append(angles, angles[0]), np.append(r, r[0]), color=color, label=label)
                pfig.add_trace(
                    go.Scatterpolar(
                        r=[*r, r[0]],
                        theta=[*names, names[0]],
                        name=label,
                        line={"color": color},
                        showlegend=False,
                    ),
                    row=prow,
                    col=pcol,
                )
            ax.set_theta_offset(np.pi / 4)  # Q1 upper right … Q4 lower right, as in the V–A plane
            ax.set_xticks(angles, names, fontsize=7)
            ax.tick_params(axis="y", labelsize=6)
            ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    caption = (
        "Share of test tracks predicted in each quadrant (Q1 excitement, Q2 anger, Q3 sadness, "
        "Q4 calmness) for clean (black) and each level (light = strong); quadrants come from "
        "the classifier, or from the signs of predicted valence/arousal."
    )
    return FigurePair("Predicted quadrant shares per level", caption, grid.fig, pfig)


def magnitude_figure(magnitudes: pd.DataFrame) -> FigurePair | None:
    """Mean shift size per condition (bars with CI), coloured by kind: chains vs single effects."""
    if magnitudes.empty:
        return None
    sets = list(magnitudes.groupby(["encoder", "probe"]).groups)
    kinds = sorted(magnitudes["kind"].unique())
    colors = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kinds)}
    width = max(6.0, 0.3 * magnitudes["condition"].nunique())
    fig, axes = mpl_figure(width, PANEL_H * len(sets), len(sets), 1)
    pfig = plotly_grid(len(sets), 1, [set_label(*s) for s in sets])
    for i, (encoder, probe) in enumerate(sets):
        rows = magnitudes[(magnitudes["encoder"] == encoder) & (magnitudes["probe"] == probe)]
        err = np.abs(rows[["ci_low", "ci_high"]].to_numpy().T - rows["magnitude"].to_numpy())
        color = [colors[k] for k in rows["kind"]]
        ax = axes[i, 0]
        ax.bar(rows["condition"], rows["magnitude"], yerr=err, color=color, capsize=2)
        ax.tick_params(axis="x", labelrotation=90, labelsize=7)
        ax.set_title(set_label(encoder, probe), fontsize=9)
        ax.set_ylabel("mean shift size")
        pfig.add_trace(
            go.Bar(
                x=rows["condition"],
                y=rows["magnitude"],
                marker_color=color,
                error_y={"type": "data", "symmetric": False, "array": err[1], "arrayminus": err[0]},
                hovertext=rows["kind"],
                showlegend=False,
            ),
            row=i + 1,
            col=1,
        )
    handles = [Rectangle((0, 0), 1, 1, color=colors[k]) for k in kinds]
    axes[0, 0].legend(handles, kinds, fontsize=7)
    caption = (
        "Mean per-track size of the prediction change vs clean (regression: length of "
        "(Δvalence, Δarousal); classification: total-variation distance of quadrant "
        "probabilities), 95% bootstrap CI; colour = condition kind."
    )
    return FigurePair("Shift size per condition: chains vs single effects", caption, fig, pfig)


def loudness_figure(control: pd.DataFrame) -> FigurePair | None:
    """Raw vs loudness-matched shift per twin pair, per main output of each encoder/probe."""
    if control.empty:
        return None
    per_set = panels_per_set(control, "quantity", MAIN_QUANTITIES)
    if not per_set:
        return None
    grid = panel_grid(per_set, lambda key, q: f"{set_label(*key)}: Δ{q}")
    pfig = grid.pfig
    for (encoder, probe), quantities in per_set.items():
        for quantity in quantities:
            rows = control[
                (control["encoder"] == encoder)
                & (control["probe"] == probe)
                & (control["quantity"] == quantity)
            ]
            x = np.arange(len(rows))
            ax, prow, pcol = grid.cells[((encoder, probe), quantity)]
            for k, side in enumerate(("raw", "matched")):
                color = PALETTE[k]
                ax.bar(x + (k - 0.5) * 0.4, rows[f"shift_{side}"], 0.4, color=color, label=side)
                pfig.add_trace(
                    go.Bar(
                        x=rows["raw"],
                        y=rows[f"shift_{side}"],
                        name=side,
                        marker_color=color,
                        showlegend=ax is grid.first,
                        hovertext=rows["verdict"],
                    ),
                    row=prow,
                    col=pcol,
                )
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_xticks(x, rows["raw"], rotation=45, fontsize=7)
    grid.first.legend(fontsize=7)
    pfig.update_layout(barmode="group")
    caption = (
        "Mean paired shift vs clean under each raw condition and its loudness-matched twin; "
        "a shift that vanishes when loudness is matched came from the level change."
    )
    return FigurePair("Loudness control: raw vs loudness-matched", caption, grid.fig, pfig)


def label_figure(shifts: pd.DataFrame) -> FigurePair | None:
    """Multi-label: labels × conditions heat map of the change in predicted label rate."""
    rates = shifts[shifts["quantity"].str.startswith("rate_")] if len(shifts) else shifts
    if rates.empty:
        return None
    sets = list(rates.groupby(["encoder", "probe"]).groups)
    fig, axes = mpl_figure(6.0 * len(sets), 4.0, 1, len(sets))
    pfig = plotly_grid(1, len(sets), [set_label(*s) for s in sets])
    for j, (encoder, probe) in enumerate(sets):
        rows = rates[(rates["encoder"] == encoder) & (rates["probe"] == probe)]
        grid = rows.pivot(index="quantity", columns="condition", values="shift")
        grid = grid[rows["condition"].drop_duplicates()]
        limit = float(np.nanmax(np.abs(grid.to_numpy()))) or 1.0
        ax = axes[0, j]
        image = ax.imshow(grid.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=90, fontsize=7)
        ax.set_yticks(range(grid.shape[0]), [q[5:] for q in grid.index], fontsize=7)
        ax.set_title(set_label(encoder, probe), fontsize=9)
        fig.colorbar(image, ax=ax, label="Δ rate")
        pfig.add_trace(
            go.Heatmap(
                z=grid.to_numpy(),
                x=list(grid.columns),
                y=[q[5:] for q in grid.index],
                colorscale="RdBu",
                reversescale=True,
                zmid=0,
            ),
            row=1,
            col=j + 1,
        )
    caption = (
        "Change in the share of test tracks each label is predicted for "
        "(probability ≥ analysis.label_threshold)."
    )
    return FigurePair("Multi-label: predicted label rate shifts", caption, fig, pfig)
