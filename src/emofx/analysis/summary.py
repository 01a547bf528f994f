"""The two flat summaries of a run: the long ``fx_impact.csv`` table and ``metrics.json``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from emofx.analysis.findings import VERDICT_SCORES, Finding
from emofx.analysis.loading import ConditionInfo
from emofx.analysis.shifts import MAIN_QUANTITIES

FX_IMPACT_COLUMNS = [
    "analysis", "encoder", "probe", "layer", "condition", "kind", "effect", "level", "loudness",
    "quantity", "clean_value", "value", "delta", "ci_low", "ci_high", "p_value", "q_value",
    "effect_size", "n",
]  # fmt: skip


def fx_impact_table(
    performance: pd.DataFrame,
    shifts: pd.DataFrame,
    magnitudes: pd.DataFrame,
    displacement: pd.DataFrame,
    conditions: dict[str, ConditionInfo],
) -> pd.DataFrame:
    """One long table of every per-condition number, with the condition's effect/level/loudness."""
    parts = []
    if len(performance):
        parts.append(
            performance.rename(columns={"metric": "quantity"}).assign(analysis="performance")
        )
    if len(shifts):
        parts.append(
            shifts.rename(columns={"clean_mean": "clean_value", "mean": "value", "shift": "delta"})
            .drop(columns=["sd_ratio", "sd_p_value", "sd_q_value", "abs_shift"])
            .assign(analysis="shift")
        )
        spread = shifts[shifts["sd_ratio"].notna()]
        parts.append(
            spread[["encoder", "probe", "condition", "quantity", "n"]].assign(
                analysis="variability",
                value=spread["sd_ratio"],
                p_value=spread["sd_p_value"],
                q_value=spread["sd_q_value"],
            )
        )
    if len(magnitudes):
        parts.append(
            magnitudes.drop(columns=["kind", "loudness"]).assign(
                analysis="shift_size", quantity="magnitude", value=magnitudes["magnitude"]
            )
        )
    if len(displacement):
        parts.append(
            displacement.assign(
                analysis="displacement",
                quantity="cosine_distance",
                value=displacement["cosine_distance"],
            )
        )
    if not parts:
        return pd.DataFrame(columns=FX_IMPACT_COLUMNS)
    table = pd.concat(parts, ignore_index=True)
    info = table["condition"].map(conditions)
    table["kind"] = [c.kind for c in info]
    table["effect"] = [c.effect for c in info]
    table["level"] = [c.level for c in info]
    table["loudness"] = [c.loudness for c in info]
    return table.reindex(columns=FX_IMPACT_COLUMNS)


def key_metrics(
    performance: pd.DataFrame,
    shifts: pd.DataFrame,
    displacement: pd.DataFrame,
    findings: list[Finding],
    split: str,
) -> dict[str, float]:
    """Flat key figures: ``<encoder>.<probe>.<condition>.<split>_<metric>``, ``….shift_<q>``,
    ``<encoder>.<condition>.cosine_distance`` (mean over layers), ``findings.<claim>`` (1 / 0.5 /
    0 = supported / partly / not; absent when not tested)."""
    metrics: dict[str, float] = {}
    for r in performance.itertuples() if len(performance) else []:
        metrics[f"{r.encoder}.{r.probe}.{r.condition}.{split}_{r.metric}"] = r.value
    main = shifts[shifts["quantity"].isin(MAIN_QUANTITIES)] if len(shifts) else shifts
    for r in main.itertuples():
        metrics[f"{r.encoder}.{r.probe}.{r.condition}.shift_{r.quantity}"] = r.shift
    if len(displacement):
        mean = displacement.groupby(["encoder", "condition"])["cosine_distance"].mean()
        for (encoder, cond), value in mean.items():
            metrics[f"{encoder}.{cond}.cosine_distance"] = value
    for finding in findings:
        if finding.verdict in VERDICT_SCORES:
            metrics[f"findings.{finding.key}"] = VERDICT_SCORES[finding.verdict]
    return {k: float(v) for k, v in metrics.items() if np.isfinite(v)}
