"""The first screen of the report: encoder × condition heat maps of the val-selected probes and
the short findings table.

(a) Δ test score vs clean per target, (b) mean prediction shift per output, (c) raw vs
loudness-matched shifts side by side. Every cell prints its value with ``*`` when it is
significant (a Δ whose bootstrap CI excludes 0; a shift with BH q < alpha); hover shows the CI,
the q-value and n.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emofx.analysis.figure_io import FigurePair
from emofx.analysis.findings import Finding
from emofx.analysis.heatmap import HeatPanel, heatmap_figure
from emofx.analysis.loading import CLEAN, QUADRANT_NAMES, QUADRANT_PROBS
from emofx.analysis.statistics import family_name

SCORE_METRICS = {
    "regression": ("r2_valence", "r2_arousal"),
    "quadrant": ("accuracy_quadrant", "f1_macro_quadrant"),
    "labels": ("f1_micro_labels",),
}
"""Headline metrics per task; multi-label runs add ``r_<emotion>`` (Pearson r of each label's
probability with its annotated proportion)."""
SHARES = tuple(f"share_q{q}" for q in QUADRANT_NAMES)
SHIFT_QUANTITIES = {"regression": ("valence", "arousal", *SHARES), "quadrant": SHARES}
"""Headline shifts per task; multi-label runs add ``prob_<emotion>``. Quadrant shares belong to
the quadrant classifier, or to the regression probe (signs of valence/arousal) without one."""
SMALL_TEST_SET = 30


def label_of(name: str) -> str:
    """Readable name of a metric or shifted output (``r2_valence`` → ``R² valence``)."""
    if name.startswith("share_q"):
        return f"share Q{name[-1]} {QUADRANT_NAMES[int(name[-1])]}"
    for prefix, text in (
        ("r2_", "R² "), ("r_", "r "), ("accuracy_", "accuracy "), ("f1_macro_", "F1 macro "),
        ("f1_micro_", "F1 micro "), ("prob_", "p "), ("rate_", "rate "),
    ):  # fmt: skip
        if name.startswith(prefix):
            return text + name.removeprefix(prefix)
    return name


def headline_rows(table: pd.DataFrame, selected: pd.DataFrame, column: str) -> pd.DataFrame:
    """Rows of ``table`` (performance or shifts) that belong to a val-selected (encoder, probe,
    task) and are headline ``column`` values (metric or quantity); quadrant shares come from the
    regression probe only when the encoder has no quadrant classifier."""
    if table.empty or selected.empty:
        return table.iloc[0:0]
    rows = table.merge(selected[["encoder", "task", "probe"]], on=["encoder", "task", "probe"])
    wanted = SCORE_METRICS if column == "metric" else SHIFT_QUANTITIES
    classifier = set(selected.loc[selected["task"] == "quadrant", "encoder"])
    keep = [
        (name in wanted.get(task, ()) and not (task == "regression" and enc in classifier
                                                and name.startswith("share_q")))
        or (task == "labels" and name.startswith("r_" if column == "metric" else "prob_"))
        for enc, task, name in zip(rows["encoder"], rows["task"], rows[column], strict=True)
    ]  # fmt: skip
    return rows[keep]


def _panel(
    rows: pd.DataFrame, column: str, value: str, columns: list[str], title: str, marks, hover
) -> HeatPanel | None:
    if rows.empty:
        return None
    keys = list(dict.fromkeys(zip(rows["encoder"], rows["probe"], rows[column], strict=True)))
    cols = [c for c in columns if c in set(rows["condition"])]
    index = {(r.encoder, r.probe, getattr(r, column), r.condition): r for r in rows.itertuples()}
    values = np.full((len(keys), len(cols)), np.nan)
    text = [[""] * len(cols) for _ in keys]
    tips = [[""] * len(cols) for _ in keys]
    for i, key in enumerate(keys):
        for j, cond in enumerate(cols):
            r = index.get((*key, cond))
            if r is None:
                continue
            values[i, j] = getattr(r, value)
            text[i][j] = f"{values[i, j]:+.2f}" + ("*" if marks(r) else "")
            tips[i][j] = hover(r)
    labels = [f"{enc} / {probe} · {label_of(name)}" for enc, probe, name in keys]
    return HeatPanel(title, labels, cols, values, text, tips)


def _ordered(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    order = {t: k for k, t in enumerate(("regression", "quadrant", "labels"))}
    return rows.sort_values(
        ["encoder", "task", "probe"], key=lambda s: s.map(order) if s.name == "task" else s
    ).pipe(lambda t: t[t[column].notna()])


def score_figure(
    performance: pd.DataFrame, selected: pd.DataFrame, conditions: list[str]
) -> FigurePair | None:
    """(a) Δ held-out score vs clean: rows encoder / probe · metric, columns conditions."""
    rows = _ordered(headline_rows(performance, selected, "metric"), "metric")
    rows = rows[rows["condition"] != CLEAN]
    panel = _panel(
        rows, "metric", "delta", conditions, "Δ score vs clean",
        lambda r: r.ci_low > 0 or r.ci_high < 0,
        lambda r: (f"{label_of(r.metric)}: {r.value:.3f} vs clean {r.clean_value:.3f}<br>"
                   f"Δ {r.delta:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}], n={r.n}"),
    )  # fmt: skip
    if panel is None:
        return None
    caption = (
        "Held-out score (out of fold under cross-validation, else the test split) under each "
        "condition minus clean, per val-selected probe (F1 of labels: a "
        "label is present when its proportion (truth) or probability (prediction) is ≥ "
        "analysis.label_threshold). Red = worse. "
        "* = the paired bootstrap CI excludes 0; hover for the CI and n."
    )
    return heatmap_figure(
        [panel],
        "(a) Performance under FX: Δ held-out score vs clean",
        caption,
        "Δ score (FX − clean)",
    )


def shift_figure(
    shifts: pd.DataFrame, selected: pd.DataFrame, conditions: list[str], alpha: float
) -> FigurePair | None:
    """(b) Mean prediction shift vs clean: rows encoder / probe · output, columns conditions."""
    rows = _ordered(headline_rows(shifts, selected, "quantity"), "quantity")
    panel = _panel(
        rows, "quantity", "shift", conditions, "mean shift vs clean",
        lambda r: r.q_value < alpha,
        lambda r: (f"{label_of(r.quantity)}: shift {r.shift:+.3f} "
                   f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]<br>q = {r.q_value:.3g}, n={r.n}"),
    )  # fmt: skip
    if panel is None:
        return None
    caption = (
        f"Mean per-track change of each output vs clean (valence/arousal on the normalised "
        f"[-1, 1] scale; probabilities and shares as fractions). * = Wilcoxon signed-rank "
        f"(McNemar for shares) q < {alpha} after Benjamini–Hochberg over one family, "
        f"{family_name(shifts)}; hover for CI and q."
    )
    return heatmap_figure(
        [panel], "(b) Prediction shifts vs clean", caption, "shift (FX − clean)", cmap="PuOr_r"
    )


def loudness_figure(
    control: pd.DataFrame, selected: pd.DataFrame, alpha: float
) -> FigurePair | None:
    """(c) Raw vs loudness-matched shift of each twin pair, side by side on one colour scale."""
    if control.empty or selected.empty:
        return None
    keys = ["encoder", "probe", "quantity"]
    base = control.merge(selected[["encoder", "probe"]].drop_duplicates(), on=["encoder", "probe"])
    shown = base["quantity"].isin(["valence", "arousal"]) | base["quantity"].str.startswith("prob_")
    base = base[shown & ~base["quantity"].isin(QUADRANT_PROBS)]
    if base.empty:
        return None
    pairs = list(dict.fromkeys(base["raw"]))
    panels = []
    for side in ("raw", "matched"):
        rows = base.assign(
            condition=base["raw"],
            task="",
            shift=base[f"shift_{side}"],
            q_value=base[f"q_value_{side}"],
            shown=base[side],
        )[[*keys, "condition", "shift", "q_value", "shown", "verdict"]]
        title = "raw" if side == "raw" else "loudness-matched twin (+lufs)"
        panels.append(
            _panel(
                rows, "quantity", "shift", pairs, title,
                lambda r: r.q_value < alpha,
                lambda r: f"{r.shown}: shift {r.shift:+.3f}, q = {r.q_value:.3g} ({r.verdict})",
            )
        )  # fmt: skip
    caption = (
        "Mean shift under each raw condition (left) and under its loudness-matched twin (right, "
        "same effect and level, output loudness matched to the input). A shift that vanishes "
        f"on the right was caused by loudness. * = q < {alpha}."
    )
    return heatmap_figure(
        panels, "(c) Raw vs loudness-matched", caption, "shift (FX − clean)", cmap="PuOr_r"
    )


def findings_table(
    findings: list[Finding],
    performance: pd.DataFrame,
    shifts: pd.DataFrame,
    selected: pd.DataFrame,
    alpha: float,
) -> pd.DataFrame:
    """One row per paper claim, then per val-selected (encoder, probe, task) its strongest
    prediction shift and its largest score change: verdict, effect with CI, q."""
    rows = [
        {"finding": f.claim, "verdict": f.verdict, "effect [CI]": "; ".join(f.evidence[:1]),
         "q": ""}
        for f in findings
    ]  # fmt: skip
    moved = headline_rows(shifts, selected, "quantity")
    for _, group in moved.groupby(["encoder", "probe", "task"], sort=True):
        r = group.loc[group["shift"].abs().idxmax()]
        rows.append(
            {
                "finding": f"{r.condition} shifts {label_of(r.quantity)} "
                f"({r.encoder} / {r.probe}, strongest shift)",
                "verdict": "significant" if r.q_value < alpha else "not significant",
                "effect [CI]": f"{r['shift']:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]",
                "q": f"{r.q_value:.3g}",
            }
        )
    scored = headline_rows(performance, selected, "metric")
    scored = scored[scored["condition"] != CLEAN]
    for _, group in scored.groupby(["encoder", "probe", "task"], sort=True):
        r = group.loc[group["delta"].idxmin()]
        excludes = r.ci_low > 0 or r.ci_high < 0
        rows.append(
            {
                "finding": f"{r.condition} changes {label_of(r.metric)} "
                f"({r.encoder} / {r.probe}, largest drop)",
                "verdict": "CI excludes 0" if excludes else "CI includes 0",
                "effect [CI]": f"{r.delta:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]",
                "q": "",
            }
        )
    return pd.DataFrame(rows, columns=["finding", "verdict", "effect [CI]", "q"])


def dynamic_figure(dynamic: pd.DataFrame, conditions: list[str]) -> FigurePair | None:
    """(d) Dynamic (2 Hz) task: Δ mean per-song Pearson r vs clean per target and condition."""
    rows = dynamic[dynamic["condition"] != CLEAN] if len(dynamic) else dynamic
    if rows.empty:
        return None
    rows = rows.assign(output=[f"Δ song r {t}" for t in rows["target"]])
    panel = _panel(
        rows, "output", "delta_song_pearson", conditions, "Δ song r vs clean",
        lambda r: r.delta_song_pearson_ci_low > 0 or r.delta_song_pearson_ci_high < 0,
        lambda r: (f"{r.target}: song r {r.song_pearson:.3f}, Δ {r.delta_song_pearson:+.3f} "
                   f"[{r.delta_song_pearson_ci_low:+.3f}, {r.delta_song_pearson_ci_high:+.3f}]"
                   f"<br>shift {r.shift:+.3f}, q = {r.shift_q_value:.3g}, {r.n_songs} songs"),
    )  # fmt: skip
    caption = (
        "Agreement of the 2 Hz predictions with the annotated curves: mean per-song Pearson r "
        "under each condition minus clean (paired by song). Red = the curves follow the "
        "annotation less well. * = the bootstrap CI over songs excludes 0."
    )
    return heatmap_figure(
        [panel], "(d) Dynamic (2 Hz) predictions: Δ song r vs clean", caption, "Δ song r"
    )
