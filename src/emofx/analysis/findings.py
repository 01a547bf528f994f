"""The seed paper's claims, checked on the current run: supported or not, with the numbers.

Each claim is judged per (encoder, probe); the verdict is ``supported`` when it holds for all of
them, ``partly supported`` for some, ``not supported`` for none, ``not tested`` when the run has
no condition the claim is about.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from emofx.analysis.config import AnalysisParams
from emofx.analysis.loading import ConditionInfo

VERDICT_SCORES = {"supported": 1.0, "partly supported": 0.5, "not supported": 0.0}


@dataclass(frozen=True)
class Finding:
    key: str  # short name, used in metrics.json as ``findings.<key>``
    claim: str
    verdict: str
    evidence: list[str]


def strongest_condition(conditions: dict[str, ConditionInfo], effect: str) -> ConditionInfo | None:
    """The highest level of a single effect without loudness matching, if the run has one."""
    levels = [
        c
        for c in conditions.values()
        if c.kind == "effect"
        and c.effect == effect
        and c.loudness == "none"
        and c.level is not None
    ]
    return max(levels, key=lambda c: c.level) if levels else None


def _holds(ok: bool) -> str:
    return "holds" if ok else "does not hold"


def _verdict(outcomes: list[bool]) -> str:
    if not outcomes:
        return "not tested"
    if all(outcomes):
        return "supported"
    return "partly supported" if any(outcomes) else "not supported"


def distortion_finding(
    shifts: pd.DataFrame,
    share_tests: pd.DataFrame,
    conditions: dict[str, ConditionInfo],
    params: AnalysisParams,
) -> Finding:
    """At distortion's strongest level the anger (Q2) share rises and the calmness (Q4) share
    falls, each significantly by the paired exact McNemar test (BH over the shift table); the seed
    paper's chi-square test of the shares is reported alongside."""
    claim = "Distortion raises anger (Q2) and lowers calmness (Q4)."
    if shifts.empty or share_tests.empty:
        return Finding("distortion_anger_calmness", claim, "not tested", ["no quadrant output"])
    outcomes, evidence = [], []
    shares = shifts[shifts["quantity"].isin(["share_q2", "share_q4"])]
    for effect in params.findings.distortion_effects:
        cond = strongest_condition(conditions, effect)
        if cond is None:
            evidence.append(f"{effect}: not in this run")
            continue
        rows = shares[shares["condition"] == cond.id]
        for (encoder, probe), group in rows.groupby(["encoder", "probe"]):
            q2, q4 = (group.set_index("quantity").loc[q] for q in ("share_q2", "share_q4"))
            test = share_tests[
                (share_tests["encoder"] == encoder)
                & (share_tests["probe"] == probe)
                & (share_tests["scope"] == "condition")
                & (share_tests["name"] == cond.id)
            ]
            chi_q = float(test["q_value"].iloc[0]) if len(test) else np.nan
            ok = bool(
                q2["shift"] > 0
                and q4["shift"] < 0
                and max(q2["q_value"], q4["q_value"]) < params.fdr_alpha
            )
            outcomes.append(ok)
            evidence.append(
                f"{encoder}/{probe} {cond.id}: anger share {q2['clean_mean']:.2f} → "
                f"{q2['mean']:.2f} (McNemar q = {q2['q_value']:.3g}), calmness share "
                f"{q4['clean_mean']:.2f} → {q4['mean']:.2f} (q = {q4['q_value']:.3g}); "
                f"χ² q = {chi_q:.3g} ({_holds(ok)})"
            )
    return Finding("distortion_anger_calmness", claim, _verdict(outcomes), evidence)


def variability_finding(
    shifts: pd.DataFrame, conditions: dict[str, ConditionInfo], params: AnalysisParams
) -> Finding:
    """Each named effect (strongest level) widens the spread of at least one continuous output:
    SD ratio > 1 with a significant Pitman–Morgan test (BH over the shift table)."""
    effects = params.findings.variability_effects
    claim = f"{' and '.join(e.capitalize() for e in effects)} make predictions more variable."
    if shifts.empty:
        return Finding("chorus_delay_variability", claim, "not tested", ["no predictions"])
    outcomes, evidence = [], []
    continuous = shifts[shifts["sd_ratio"].notna()]
    for effect in effects:
        cond = strongest_condition(conditions, effect)
        if cond is None:
            evidence.append(f"{effect}: not in this run")
            continue
        rows = continuous[continuous["condition"] == cond.id]
        for (encoder, probe), group in rows.groupby(["encoder", "probe"]):
            wider = (group["sd_ratio"] > 1) & (group["sd_q_value"] < params.fdr_alpha)
            outcomes.append(bool(wider.any()))
            detail = ", ".join(
                f"{r.quantity} {r.sd_ratio:.2f} (q = {r.sd_q_value:.3g})"
                for r in group.itertuples()
            )
            evidence.append(
                f"{encoder}/{probe} {cond.id}: SD ratio vs clean {detail} ({_holds(outcomes[-1])})"
            )
    return Finding("chorus_delay_variability", claim, _verdict(outcomes), evidence)


def chains_finding(chain_tests: pd.DataFrame, params: AnalysisParams) -> Finding:
    """Each chain shifts each track's predictions more than its single effects do: paired per
    track, one-sided Wilcoxon signed-rank, BH over every chain × encoder × probe
    (:func:`emofx.analysis.shifts.chain_tests`)."""
    claim = "Real-world effect chains shift predictions more than single effects."
    if chain_tests.empty:
        return Finding(
            "chains_vs_single",
            claim,
            "not tested",
            ["no chain whose effects the run also has alone"],
        )
    outcomes, evidence = [], []
    for r in chain_tests.itertuples():
        ok = bool(r.difference > 0 and r.q_value < params.fdr_alpha)
        outcomes.append(ok)
        evidence.append(
            f"{r.encoder}/{r.probe} {r.chain}: mean shift size {r.chain_magnitude:.3f} vs "
            f"{r.single_magnitude:.3f} under its single effects ({r.singles}), per track "
            f"{r.difference:+.3f}, one-sided Wilcoxon q = {r.q_value:.3g} over {r.family} "
            f"({_holds(ok)})"
        )
    return Finding("chains_vs_single", claim, _verdict(outcomes), evidence)


def paper_findings(
    shifts: pd.DataFrame,
    share_tests: pd.DataFrame,
    chain_tests: pd.DataFrame,
    conditions: dict[str, ConditionInfo],
    params: AnalysisParams,
) -> list[Finding]:
    return [
        distortion_finding(shifts, share_tests, conditions, params),
        variability_finding(shifts, conditions, params),
        chains_finding(chain_tests, params),
    ]
