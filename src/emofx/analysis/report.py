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

from emofx.analysis.headline import SMALL_TEST_SET
from emofx.analysis.loading import CLEAN, QUADRANT_NAMES
from emofx.analysis.shifts import MAIN_QUANTITIES
from emofx.analysis.statistics import family_name


@dataclass(frozen=True)
class FigureEntry:
    name: str
    title: str
    caption: str
    png: str  # relative to the page
    html: str


@dataclass(frozen=True)
class Section:
    """A collapsible part of the page (``<details>``); ``children`` nest inside it."""

    title: str
    table: str  # HTML
    note: str = ""
    figures: tuple[FigureEntry, ...] = ()  # shown under the table
    children: tuple[Section, ...] = ()


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


COMPARISON_METRICS = [
    "r2_valence", "r2_arousal", "rmse_valence", "rmse_arousal", "mae_valence", "mae_arousal",
    "accuracy_quadrant", "f1_macro_quadrant", "f1_micro_labels", "f1_macro_labels",
]  # fmt: skip


def comparison_section(
    performance: pd.DataFrame,
    scores: pd.DataFrame,
    selected: pd.DataFrame,
    systems: set[tuple[str, str]],
    children: tuple[Section, ...],
) -> Section | None:
    """Every probe and seed-report system on clean test audio in one table (the seed report's
    R²/RMSE/MAE layout plus class and label scores), with each probe's validation score and the
    tasks it is shown for; ``children``: their per-condition tables."""
    if performance.empty:
        return None
    clean = performance[
        (performance["condition"] == CLEAN) & performance["metric"].isin(COMPARISON_METRICS)
    ]
    table = clean.pivot_table(index=["encoder", "probe"], columns="metric", values="value")
    table = table.reindex(columns=[m for m in COMPARISON_METRICS if m in table.columns])
    if len(scores):
        val = scores.pivot_table(index=["encoder", "probe"], columns="task", values="val_score")
        table = table.join(val.rename(columns=lambda t: f"val {t}"))
    table = table.reset_index()
    shown = selected.groupby(["encoder", "probe"])["task"].agg(", ".join)
    table.insert(2, "kind", ["system" if k in systems else "probe" for k in zip(
        table["encoder"], table["probe"], strict=True)])  # fmt: skip
    table.insert(3, "shown for", [shown.get(k, "") for k in zip(
        table["encoder"], table["probe"], strict=True)])  # fmt: skip
    table = table.sort_values(["kind", "encoder", "probe"])
    note = (
        "Clean test split, every probe (encoder = embedding) and seed-report system (encoder = "
        "system, probe = model). 'val <task>' is the validation score that picks the probe shown "
        "in the headline (R² mean over targets, F1 macro of quadrants, F1 micro of labels)."
    )
    return Section(
        "System comparison: every probe and system on clean test audio",
        _html(table),
        note,
        (),
        children,
    )


def performance_delta_section(performance: pd.DataFrame, title: str) -> Section | None:
    """Δ vs clean [CI] of every metric in ``performance``: a row per (encoder, probe,
    condition), a column per metric."""
    rows = performance[performance["condition"] != CLEAN] if len(performance) else performance
    if rows.empty:
        return None
    cells = rows.assign(
        cell=[_interval(r.delta, r.ci_low, r.ci_high) for r in rows.itertuples()]
    ).pivot(index=["encoder", "probe", "condition"], columns="metric", values="cell")
    cells = _in_condition_order(cells.reset_index(), rows["condition"])
    note = "Metric under FX minus clean [95% paired bootstrap CI]; negative R²/accuracy = worse."
    return Section(title, _html(cells), note)


def shift_section(shifts: pd.DataFrame, alpha: float, title: str) -> Section | None:
    """Mean shift [CI] and effect size of every quantity in ``shifts``: a row per (encoder,
    probe, condition), a column per quantity."""
    if shifts.empty:
        return None
    cells = shifts.assign(
        cell=[
            _interval(r.shift, r.ci_low, r.ci_high, r.q_value, alpha) + f" r={r.effect_size:+.2f}"
            for r in shifts.itertuples()
        ]
    ).pivot(index=["encoder", "probe", "condition"], columns="quantity", values="cell")
    cells = _in_condition_order(cells.reset_index(), shifts["condition"])
    note = (
        "Mean paired shift of the prediction vs clean [95% CI], Wilcoxon signed-rank test (McNemar "
        f"for shares and rates) with BH over one family, {family_name(shifts)} (* = q < alpha), "
        "r = matched-pairs rank-biserial effect size."
    )
    return Section(title, _html(cells), note)


def per_probe_sections(
    performance: pd.DataFrame, shifts: pd.DataFrame, alpha: float
) -> tuple[Section, ...]:
    """One collapsed section per (encoder, probe) with its Δ-score and shift tables."""
    pairs = sorted(
        set(zip(performance.get("encoder", []), performance.get("probe", []), strict=True))
        | set(zip(shifts.get("encoder", []), shifts.get("probe", []), strict=True))
    )
    out = []
    for encoder, probe in pairs:
        parts = [
            performance_delta_section(_rows_of(performance, encoder, probe), "Δ score vs clean"),
            shift_section(_rows_of(shifts, encoder, probe), alpha, "Prediction shifts"),
        ]
        children = tuple(p for p in parts if p is not None)
        if children:
            out.append(Section(f"{encoder} / {probe}", "", "", (), children))
    return tuple(out)


def _rows_of(table: pd.DataFrame, encoder: str, probe: str) -> pd.DataFrame:
    if table.empty:
        return table
    return table[(table["encoder"] == encoder) & (table["probe"] == probe)]


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
    note = (
        "Share of tracks per predicted quadrant; χ² test of the shares vs clean, BH over "
        f"{family_name(tests)}."
    )
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


def gain_staging_section(staging: pd.DataFrame) -> Section | None:
    if staging.empty:
        return None
    note = (
        "Per condition, over the scored tracks: loudness of the gain-staged input (fx.input_level) "
        "and the change the condition made (LU); non-linear share = energy of the rendered audio "
        "that the best scalar gain of the input does not explain, relative to the rendered energy "
        "(least-squares gain; filters, delays and reverbs count as non-gain too). Near 0: for the "
        "encoder this condition is only a gain."
    )
    return Section(
        "Gain staging: how much of each effect is more than a gain", _html(staging), note
    )


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


@dataclass(frozen=True)
class RunSummary:
    """What was run, for the first lines of the page."""

    dataset: str
    split: str
    n_tracks: int
    encoders: list[str]
    probes: list[str]
    shown: list[str]  # "task: encoder / probe" of the val-selected probes
    conditions: list[str]
    protocol: str = ""  # how the scored predictions were held out (see protocol_line)


def protocol_line(protocol: str, evaluation, folds: pd.DataFrame, selected: pd.DataFrame) -> str:
    """The evaluation protocol in words; under cross-validation with the spread over folds of
    each shown probe's clean score (R² mean over targets, F1 macro, F1 micro)."""
    if protocol != "cv":
        return (
            "fixed split: fitted on train, layer and hyperparameters chosen on val, scored on test"
        )
    k, repeats = evaluation.folds, evaluation.repeats
    text = (
        f"{k}-fold cross-validation{f' × {repeats} repeats' if repeats > 1 else ''} "
        "(seeded, group-disjoint, stratified): each fold fitted on the other folds' clean audio, "
        "choices on an inner validation split of them; every track scored once, out of fold"
        f"{' (predictions averaged over repeats)' if repeats > 1 else ''}"
    )
    if folds.empty:
        return text
    metric = {"regression": "r2_", "quadrant": "f1_macro_", "labels": "f1_micro_"}
    spread = []
    for row in selected.itertuples():
        part = folds[(folds["encoder"] == row.encoder) & (folds["probe"] == row.probe)
                     & (folds["task"] == row.task)
                     & folds["metric"].str.startswith(metric[row.task])]  # fmt: skip
        if part.empty:
            continue
        per_fold = part.groupby("fold")["value"].mean()
        name = {"regression": "R²", "quadrant": "F1 macro", "labels": "F1 micro"}[row.task]
        spread.append(
            f"{row.task} {row.encoder} / {row.probe} clean {name} per fold "
            f"{per_fold.mean():.2f} ± {per_fold.std(ddof=1):.2f} "
            f"({per_fold.min():.2f}–{per_fold.max():.2f})"
        )
    return text + (". " + "; ".join(spread) if spread else "")


def render_report(
    path: Path,
    *,
    summary: RunSummary,
    headline: list[FigureEntry],
    findings: pd.DataFrame,
    sections: list[Section],
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
        run=summary,
        small=summary.n_tracks < SMALL_TEST_SET,
        min_tracks=SMALL_TEST_SET,
        headline=headline,
        findings=_html(findings),
        sections=sections,
        files=files,
        confidence=round(100 * params.confidence_level),
        n_bootstrap=params.n_bootstrap,
        alpha=params.fdr_alpha,
    )
    path.write_text(html, encoding="utf-8")
    return path
