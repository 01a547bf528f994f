"""The static report page: tables and figures of one analysis run, readable offline.

Everything the page references is a relative path inside the report folder; no script, style or
image is fetched from elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from emofx.analysis.findings import Finding
from emofx.analysis.loading import CLEAN, QUADRANT_NAMES
from emofx.analysis.shifts import MAIN_QUANTITIES


@dataclass(frozen=True)
class FigureEntry:
    name: str
    title: str
    caption: str
    png: str  # relative to the page
    html: str


@dataclass(frozen=True)
class Section:
    title: str
    table: str  # HTML
    note: str = ""
    figures: tuple[FigureEntry, ...] = ()  # shown under the table


def _html(table: pd.DataFrame) -> str:
    return table.to_html(index=False, border=0, na_rep="–", float_format=lambda v: f"{v:.3g}")


def _interval(value: float, low: float, high: float, q: float = np.nan, alpha: float = 0.0) -> str:
    star = "*" if q < alpha else ""
    return f"{value:+.3f} [{low:+.3f}, {high:+.3f}]{star}"


def _in_condition_order(table: pd.DataFrame, conditions: pd.Series) -> pd.DataFrame:
    """Sort by encoder, probe, then condition in conditions.json order (not alphabetically)."""
    order = pd.CategoricalDtype(conditions.drop_duplicates().tolist(), ordered=True)
    return table.sort_values(
        ["encoder", "probe", "condition"],
        key=lambda column: column.astype(order) if column.name == "condition" else column,
    )


def _per_probe(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Probes have different outputs (regression, quadrants, labels): one table each."""
    return list(table.groupby("probe", sort=True)) if len(table) else []


SYSTEM_METRICS = [f"{m}_{t}" for t in ("valence", "arousal") for m in ("r2", "rmse", "mae")]


def system_comparison_section(performance: pd.DataFrame) -> list[Section]:
    """Every model that predicts valence/arousal, side by side on clean test audio (the seed
    report's table: R², RMSE, MAE per target, one row per system)."""
    if not len(performance):
        return []
    rows = performance[
        (performance["condition"] == "clean") & performance["metric"].isin(SYSTEM_METRICS)
    ]
    if rows.empty:
        return []
    table = rows.pivot_table(index=["encoder", "probe"], columns="metric", values="value")
    table = table.reindex(columns=[m for m in SYSTEM_METRICS if m in table.columns])
    table = table.sort_values(table.columns[0], ascending=False).reset_index()
    note = "Clean test split; encoder = embedding or system, probe = model (best first)."
    return [Section("System comparison (seed report layout)", _html(table), note)]


def clean_performance_sections(performance: pd.DataFrame) -> list[Section]:
    clean = performance[performance["condition"] == "clean"] if len(performance) else performance
    return [
        Section(
            f"Clean performance: {probe}",
            _html(rows.pivot(index="encoder", columns="metric", values="value").reset_index()),
        )
        for probe, rows in _per_probe(clean)
    ]


def performance_delta_sections(performance: pd.DataFrame) -> list[Section]:
    rows = performance[performance["condition"] != "clean"] if len(performance) else performance
    note = "Metric under FX minus clean [95% paired bootstrap CI]; negative R²/accuracy = worse."
    sections = []
    for probe, group in _per_probe(rows):
        cells = group.assign(
            cell=[_interval(r.delta, r.ci_low, r.ci_high) for r in group.itertuples()]
        ).pivot(index=["encoder", "probe", "condition"], columns="metric", values="cell")
        cells = _in_condition_order(cells.reset_index(), group["condition"])
        sections.append(Section(f"Performance under FX (Δ vs clean): {probe}", _html(cells), note))
    return sections


def shift_sections(shifts: pd.DataFrame, alpha: float) -> list[Section]:
    rows = shifts[shifts["quantity"].isin(MAIN_QUANTITIES)] if len(shifts) else shifts
    note = (
        "Mean paired shift of the prediction vs clean [95% CI], Wilcoxon signed-rank test with BH "
        "across conditions (* = q < alpha), r = matched-pairs rank-biserial effect size."
    )
    sections = []
    for probe, group in _per_probe(rows):
        cells = group.assign(
            cell=[
                _interval(r.shift, r.ci_low, r.ci_high, r.q_value, alpha)
                + f" r={r.effect_size:+.2f}"
                for r in group.itertuples()
            ]
        ).pivot(index=["encoder", "probe", "condition"], columns="quantity", values="cell")
        cells = _in_condition_order(cells.reset_index(), group["condition"])
        cells = cells[
            [c for c in cells.columns if c not in MAIN_QUANTITIES]
            + [q for q in MAIN_QUANTITIES if q in cells.columns]
        ]
        sections.append(Section(f"Prediction shifts: {probe}", _html(cells), note))
    return sections


def share_section(shifts: pd.DataFrame, share_tests: pd.DataFrame) -> Section | None:
    shares = shifts[shifts["quantity"].str.startswith("share_q")] if len(shifts) else shifts
    if shares.empty:
        return None
    table = shares.pivot(index=["encoder", "probe", "condition"], columns="quantity", values="mean")
    table = table.rename(columns=lambda q: f"{q} {QUADRANT_NAMES[int(q[-1])]}").reset_index()
    tests = share_tests[share_tests["scope"] == "condition"].rename(columns={"name": "condition"})
    table = table.merge(
        tests[["encoder", "probe", "condition", "chi2", "p_value", "q_value"]],
        on=["encoder", "probe", "condition"],
        how="left",
    )
    note = "Share of tracks per predicted quadrant; χ² test of the shares vs clean, BH-adjusted."
    return Section("Predicted quadrant shares", _html(table), note)


def effect_test_section(dose: pd.DataFrame, share_tests: pd.DataFrame) -> Section | None:
    parts = []
    if len(dose):
        main = dose[dose["quantity"].isin(MAIN_QUANTITIES)]
        parts.append(
            main.assign(
                test="slope per level",
                value=[_interval(r.slope, r.ci_low, r.ci_high) for r in main.itertuples()],
            )[["encoder", "probe", "group", "quantity", "test", "value", "p_value"]]
        )
    if len(share_tests):
        effect = share_tests[share_tests["scope"] == "effect"]
        parts.append(
            effect.assign(
                group=effect["name"],
                quantity="quadrant shares",
                test="χ² over levels",
                value=[f"{v:.2f}" for v in effect["chi2"]],
            )[["encoder", "probe", "group", "quantity", "test", "value", "p_value"]]
        )
    if not parts:
        return None
    note = "Dose-response: slope of the mean shift per level unit [95% CI over tracks]; χ² of "
    note += "predicted-quadrant counts over clean + all levels of the effect."
    return Section("Dose-response per effect", _html(pd.concat(parts)), note)


def loudness_section(control: pd.DataFrame) -> Section | None:
    rows = control[control["quantity"].isin(MAIN_QUANTITIES)] if len(control) else control
    if rows.empty:
        return None
    note = (
        "Raw condition vs its loudness-matched twin: a shift survives when the twin keeps a "
        "significant shift in the same direction of at least the configured share of the raw one."
    )
    return Section("Loudness control", _html(rows), note)


def displacement_section(trajectories: pd.DataFrame) -> Section | None:
    if trajectories.empty:
        return None
    table = trajectories.pivot(index=["encoder", "group"], columns="layer", values="length")
    layers = trajectories.drop_duplicates("layer").sort_values("layer_index")["layer"]
    table = table[list(dict.fromkeys(layers))].reset_index()
    note = "Trajectory length (summed cosine distance clean → level 1 → … → strongest) per layer."
    return Section("Embedding trajectories", _html(table), note)


DYNAMIC_COLUMNS = {
    "encoder": "encoder",
    "probe": "probe",
    "condition": "condition",
    "target": "target",
    "n_songs": "songs",
    "n_songs_excluded": "no r",
    "song_pearson": "song r",
    "song_rmse": "song RMSE",
    "frame_r2": "frame R²",
}


def _dynamic_cells(row, alpha: float) -> dict[str, str | None]:
    """The Δ columns of one dynamic row as ``value [CI]`` text (None, shown as –, for clean)."""
    if row.condition == CLEAN:
        return {"Δ song r": None, "Δ song RMSE": None, "shift": None}
    return {
        "Δ song r": _interval(
            row.delta_song_pearson, row.delta_song_pearson_ci_low, row.delta_song_pearson_ci_high
        ),
        "Δ song RMSE": _interval(
            row.delta_song_rmse, row.delta_song_rmse_ci_low, row.delta_song_rmse_ci_high
        ),
        "shift": _interval(
            row.shift, row.shift_ci_low, row.shift_ci_high, row.shift_q_value, alpha
        ),
    }


def dynamic_section(
    dynamic: pd.DataFrame, alpha: float, figures: list[FigureEntry]
) -> Section | None:
    """Per-song agreement with the 2 Hz annotation per condition, and its change vs clean."""
    if dynamic.empty:
        return None
    cells = pd.DataFrame([_dynamic_cells(r, alpha) for r in dynamic.itertuples()])
    table = pd.concat([dynamic[list(DYNAMIC_COLUMNS)].reset_index(drop=True), cells], axis=1)
    table = _in_condition_order(table, table["condition"]).rename(columns=DYNAMIC_COLUMNS)
    note = (
        "MediaEval Emotion in Music dynamic-task metrics over annotated 2 Hz frames: Pearson r "
        "and RMSE per song, averaged over songs (a song with a constant annotation or prediction "
        "has no r: it is left out of the mean and counted in 'no r'), and R² over all frames. "
        "Δ = condition − clean paired per song [95% bootstrap CI over songs]; shift = mean "
        "per-song change of the prediction, Wilcoxon signed-rank test over songs with BH across "
        "conditions (* = q < alpha)."
    )
    return Section("Dynamic (2 Hz) predictions", _html(table), note, tuple(figures))


def render_report(
    path: Path,
    *,
    dataset: str,
    split: str,
    n_tracks: int,
    encoders: list[str],
    probes: list[str],
    conditions: list[str],
    findings: list[Finding],
    sections: list[Section],
    figures: list[FigureEntry],
    files: list[str],
    params,
) -> Path:
    """Write the page to ``path`` from the packaged template."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("emofx.analysis", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    html = env.get_template("report.html.j2").render(
        dataset=dataset,
        split=split,
        n_tracks=n_tracks,
        encoders=encoders,
        probes=probes,
        conditions=conditions,
        findings=findings,
        sections=sections,
        figures=figures,
        files=files,
        confidence=round(100 * params.confidence_level),
        n_bootstrap=params.n_bootstrap,
        alpha=params.fdr_alpha,
    )
    path.write_text(html, encoding="utf-8")
    return path
