"""The detail figures, each twice: a matplotlib PNG (for the page) and a plotly HTML.

Each ``*_figure`` function returns a :class:`~emofx.analysis.figure_io.FigurePair` or None when
the run has nothing to show; :func:`emofx.analysis.figure_io.save_figure` writes them.
"""

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
from matplotlib.patches import Rectangle
from plotly.subplots import make_subplots

from emofx.analysis.dynamic import DynamicSet, curve_songs, largest_shift_conditions
from emofx.analysis.figure_io import FigurePair
from emofx.analysis.loading import CLEAN, QUADRANT_NAMES, REGRESSION_TARGETS, ConditionInfo
from emofx.analysis.shifts import MAIN_QUANTITIES, dose_groups

PALETTE = [to_hex(c) for c in colormaps["tab10"].colors]
PANEL_W, PANEL_H = 3.4, 2.8  # inches per matplotlib panel
MAX_COLS = 6
LINE_STYLES = {"solid": "-", "dash": "--"}  # plotly dash → matplotlib linestyle


def _plotly_grid(rows: int, cols: int, titles: list[str], **kwargs) -> go.Figure:
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
    pfig = _plotly_grid(n_rows, n_cols, titles, specs=specs)
    cells = {}
    for block, panel, r, c in places:
        axes[r, c].set_title(titles[r * n_cols + c], fontsize=9)
        cells[(block, panel)] = (axes[r, c], r + 1, c + 1)
    used = {(r, c) for *_, r, c in places}
    for (r, c), ax in np.ndenumerate(axes):
        if (r, c) not in used:
            ax.set_axis_off()
    return PanelGrid(fig, pfig, cells)


def _figure(width: float, height: float, rows: int, cols: int) -> tuple[Figure, np.ndarray]:
    """A matplotlib figure (no pyplot: no global state, any backend) with a 2-D axes array."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False)


def _set_label(encoder: str, probe: str) -> str:
    return f"{encoder} / {probe}"


def _panels_per_set(
    table: pd.DataFrame, column: str, panels: list[str] | tuple[str, ...]
) -> dict[tuple[str, str], list[str]]:
    """``{(encoder, probe): the panels (values of ``column``) that set has, in panels order}``."""
    return {
        key: [p for p in panels if p in set(rows[column])]
        for key, rows in table.groupby(["encoder", "probe"])
        if rows[column].isin(panels).any()
    }


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
    per_set = _panels_per_set(table, panel_column, panels)
    if not per_set:
        return None
    grid = panel_grid(per_set, lambda key, panel: f"{_set_label(*key)}: {panel}")
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
        {s: list(groups) for s in sets}, lambda key, g: f"{_set_label(*key)}: {g}", polar=True
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
    fig, axes = _figure(width, PANEL_H * len(sets), len(sets), 1)
    pfig = _plotly_grid(len(sets), 1, [_set_label(*s) for s in sets])
    for i, (encoder, probe) in enumerate(sets):
        rows = magnitudes[(magnitudes["encoder"] == encoder) & (magnitudes["probe"] == probe)]
        err = np.abs(rows[["ci_low", "ci_high"]].to_numpy().T - rows["magnitude"].to_numpy())
        color = [colors[k] for k in rows["kind"]]
        ax = axes[i, 0]
        ax.bar(rows["condition"], rows["magnitude"], yerr=err, color=color, capsize=2)
        ax.tick_params(axis="x", labelrotation=90, labelsize=7)
        ax.set_title(_set_label(encoder, probe), fontsize=9)
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
    per_set = _panels_per_set(control, "quantity", MAIN_QUANTITIES)
    if not per_set:
        return None
    grid = panel_grid(per_set, lambda key, q: f"{_set_label(*key)}: Δ{q}")
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
    fig, axes = _figure(width * len(encoders), 4.5, 1, len(encoders))
    pfig = _plotly_grid(1, len(encoders), encoders)
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


def label_figure(shifts: pd.DataFrame) -> FigurePair | None:
    """Multi-label: labels × conditions heat map of the change in predicted label rate."""
    rates = shifts[shifts["quantity"].str.startswith("rate_")] if len(shifts) else shifts
    if rates.empty:
        return None
    sets = list(rates.groupby(["encoder", "probe"]).groups)
    fig, axes = _figure(6.0 * len(sets), 4.0, 1, len(sets))
    pfig = _plotly_grid(1, len(sets), [_set_label(*s) for s in sets])
    for j, (encoder, probe) in enumerate(sets):
        rows = rates[(rates["encoder"] == encoder) & (rates["probe"] == probe)]
        grid = rows.pivot(index="quantity", columns="condition", values="shift")
        grid = grid[rows["condition"].drop_duplicates()]
        limit = float(np.nanmax(np.abs(grid.to_numpy()))) or 1.0
        ax = axes[0, j]
        image = ax.imshow(grid.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=90, fontsize=7)
        ax.set_yticks(range(grid.shape[0]), [q[5:] for q in grid.index], fontsize=7)
        ax.set_title(_set_label(encoder, probe), fontsize=9)
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
    fig, axes = _figure(
        4.8 * len(dset.targets), PANEL_H * len(songs), len(songs), len(dset.targets)
    )
    pfig = _plotly_grid(len(songs), len(dset.targets), titles)
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
    title = f"Dynamic curves: {_set_label(dset.encoder, dset.probe)}"
    return FigurePair(title, caption, fig, pfig)


def dynamic_delta_figure(table: pd.DataFrame) -> FigurePair | None:
    """Δ mean song Pearson r vs clean per condition (bars, CI), a row per encoder/probe."""
    rows = table[table["condition"] != CLEAN] if len(table) else table
    if rows.empty:
        return None
    per_set = _panels_per_set(rows, "target", list(REGRESSION_TARGETS))
    grid = panel_grid(per_set, lambda key, target: f"{_set_label(*key)}: Δ song r {target}")
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
