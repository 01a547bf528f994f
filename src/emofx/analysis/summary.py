"""The two flat summaries of a run: the long ``fx_impact.csv`` table and ``metrics.json``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from emofx.analysis.findings import VERDICT_SCORES, Finding
from emofx.analysis.headline import SCORE_METRICS, headline_rows
from emofx.analysis.loading import CLEAN, ConditionInfo

FX_IMPACT_COLUMNS = [
    "analysis", "encoder", "probe", "layer", "condition", "kind", "effect", "level", "loudness",
    "quantity", "clean_value", "value", "delta", "ci_low", "ci_high", "p_value", "q_value",
    "family", "effect_size", "n",
]  # fmt: skip


def fx_impact_table(
    performance: pd.DataFrame,
    shifts: pd.DataFrame,
    magnitudes: pd.DataFrame,
    displacement: pd.DataFrame,
    gain_staging: pd.DataFrame,
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
            .drop(columns=["sd_ratio", "sd_p_value", "sd_q_value", "sd_family", "abs_shift"])
            .assign(analysis="shift")
        )
        spread = shifts[shifts["sd_ratio"].notna()]
        parts.append(
            spread[["encoder", "probe", "condition", "quantity", "n"]].assign(
                analysis="variability",
                value=spread["sd_ratio"],
                p_value=spread["sd_p_value"],
                q_value=spread["sd_q_value"],
                family=spread["sd_family"],
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
    if len(gain_staging):
        parts.append(
            gain_staging[["encoder", "condition", "n"]].assign(
                analysis="nonlinear_share",
                quantity="nonlinear_share",
                value=gain_staging["nonlinear_share"],
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


def headline_metrics(
    performance: pd.DataFrame,
    shifts: pd.DataFrame,
    selected: pd.DataFrame,
    findings: list[Finding],
    systems: set[tuple[str, str]],
    n_tracks: int,
) -> dict:
    """``metrics.json`` (DVC metrics), nested so ``dvc metrics show`` stays readable:
    ``n_tracks``; ``clean.<encoder>.<probe>.<metric>`` (headline test metrics of every probe, not
    the systems); ``largest_shift.<encoder>.<probe>.<output>`` = ``{condition, shift, q}`` of the
    val-selected probes; ``findings.<claim>`` (1 / 0.5 / 0 = supported / partly / not; absent
    when not tested). Everything else is in ``tables/*.csv``."""
    metrics: dict = {"n_tracks": n_tracks}
    headline = {m for names in SCORE_METRICS.values() for m in names}
    clean = performance[(performance["condition"] == CLEAN)] if len(performance) else performance
    for r in clean.itertuples():
        if r.metric in headline and (r.encoder, r.probe) not in systems and np.isfinite(r.value):
            metrics.setdefault("clean", {}).setdefault(r.encoder, {}).setdefault(r.probe, {})[
                r.metric
            ] = round(float(r.value), 4)
    moved = headline_rows(shifts, selected, "quantity")
    moved = moved[~moved["quantity"].str.startswith("share_q")] if len(moved) else moved
    for (encoder, probe, quantity), group in moved.groupby(["encoder", "probe", "quantity"]):
        r = group.loc[group["shift"].abs().idxmax()]
        metrics.setdefault("largest_shift", {}).setdefault(encoder, {}).setdefault(probe, {})[
            quantity
        ] = {
            "condition": r.condition,
            "shift": round(float(r["shift"]), 4),
            "q": round(float(r.q_value), 4),
        }
    for finding in findings:
        if finding.verdict in VERDICT_SCORES:
            metrics.setdefault("findings", {})[finding.key] = VERDICT_SCORES[finding.verdict]
    return metrics


def flat_numbers(metrics: dict, prefix: str = "") -> dict[str, float]:
    """The numbers of nested ``metrics`` under dotted keys (strings such as conditions left out)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= flat_numbers(value, f"{name}.")
        elif isinstance(value, int | float) and np.isfinite(value):
            out[name] = float(value)
    return out
