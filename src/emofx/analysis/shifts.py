"""How predictions move under each condition, paired per track against ``clean``.

Quantities: continuous outputs (``valence``, ``arousal``, ``prob_q1..4``, ``prob_<label>``) get a
Wilcoxon signed-rank test, a rank-biserial effect size and a Pitman–Morgan test of spread; binary
outcomes (``share_q1..4``: predicted quadrant, ``rate_<label>``: label predicted present) get an
exact McNemar test. Benjamini–Hochberg runs over the whole table (:func:`correct_shifts`: every
location test of every encoder, probe, condition and quantity is one family, every spread test
another), and the family is named in the ``family`` / ``sd_family`` columns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emofx.analysis.config import AnalysisParams
from emofx.analysis.loading import (
    CLEAN,
    QUADRANT_NAMES,
    QUADRANT_PROBS,
    REGRESSION_TARGETS,
    ConditionInfo,
    PredictionSet,
)
from emofx.analysis.statistics import (
    chi2_shares,
    correct_family,
    dose_response,
    mcnemar_exact,
    mean_ci,
    pitman_morgan,
    signed_rank,
)

MAIN_QUANTITIES = ("valence", "arousal", *QUADRANT_PROBS)
"""The headline outputs shown in the report's tables and figures (all are in the CSVs)."""


@dataclass(frozen=True)
class Quantity:
    name: str
    task: str  # one of loading.TASKS
    binary: bool
    values: dict[str, np.ndarray]  # condition → per-track values, clean-aligned


def predicted_quadrants(frame: pd.DataFrame) -> np.ndarray:
    """Classifier's quadrant, else the quadrant of the predicted (valence, arousal) signs."""
    if "pred_quadrant" in frame:
        return frame["pred_quadrant"].to_numpy().astype(int)
    v = frame[f"pred_{REGRESSION_TARGETS['valence']}"].to_numpy() >= 0
    a = frame[f"pred_{REGRESSION_TARGETS['arousal']}"].to_numpy() >= 0
    return np.select([v & a, ~v & a, ~v & ~a], [1, 2, 3], default=4)


def quantities(pset: PredictionSet, label_threshold: float) -> list[Quantity]:
    """The compared quantities; ``rate_<label>``: probability ≥ ``label_threshold``."""
    frames = pset.frames
    out = []
    if pset.has_regression:
        for target, column in REGRESSION_TARGETS.items():
            out.append(Quantity(target, "regression", False, _column(frames, f"pred_{column}")))
    if pset.has_classification:
        probs = [c for c in QUADRANT_PROBS if c in frames[CLEAN]]
        out += [Quantity(c, "quadrant", False, _column(frames, c)) for c in probs]
    if pset.has_classification or pset.has_regression:
        task = "quadrant" if pset.has_classification else "regression"
        quadrants = {c: predicted_quadrants(f) for c, f in frames.items()}
        for q in QUADRANT_NAMES:
            shares = {c: v == q for c, v in quadrants.items()}
            out.append(Quantity(f"share_q{q}", task, True, shares))
    for label in pset.label_names:
        probs = _column(frames, f"prob_{label}")
        out.append(Quantity(f"prob_{label}", "labels", False, probs))
        rates = {c: v >= label_threshold for c, v in probs.items()}
        out.append(Quantity(f"rate_{label}", "labels", True, rates))
    return out


def _column(frames: dict[str, pd.DataFrame], column: str) -> dict[str, np.ndarray]:
    return {c: f[column].to_numpy(np.float64) for c, f in frames.items()}


LOCATION_FAMILY = "shifts: every paired location test of the table (Wilcoxon / McNemar)"
SPREAD_FAMILY = "shifts: every Pitman–Morgan spread test of the table"


def shift_tests(pset: PredictionSet, label_threshold: float) -> pd.DataFrame:
    """One row per (condition ≠ clean, quantity): means, mean paired shift and the uncorrected
    p-values of its tests (no intervals: what a simulation of many reports needs)."""
    return pd.DataFrame([row for row, _ in _shift_rows(pset, label_threshold)])


def shift_table(pset: PredictionSet, params: AnalysisParams, seed: int) -> pd.DataFrame:
    """:func:`shift_tests` with a track-bootstrap CI of each mean shift, BH-corrected over this
    table's tests (a run corrects its concatenated table again: :func:`correct_shifts`)."""
    pairs = list(_shift_rows(pset, params.label_threshold))
    if not pairs:
        return pd.DataFrame()
    table = pd.DataFrame([row for row, _ in pairs])
    cis = np.array([mean_ci(diff, params, seed) for _, diff in pairs])
    at = table.columns.get_loc("shift") + 1
    table.insert(at, "ci_low", cis[:, 0])
    table.insert(at + 1, "ci_high", cis[:, 1])
    return correct_shifts(table)


def correct_shifts(table: pd.DataFrame) -> pd.DataFrame:
    """BH over every location test of ``table`` (``q_value``, ``family``) and over every spread
    test (``sd_q_value``, ``sd_family``): one family each, across encoders, probes, conditions and
    quantities, as the table shows them together."""
    table = correct_family(table, LOCATION_FAMILY)
    return correct_family(table, SPREAD_FAMILY, "sd_p_value", "sd_q_value", "sd_family")


def _shift_rows(pset: PredictionSet, label_threshold: float) -> Iterator[tuple[dict, np.ndarray]]:
    """(row, per-track differences) per (quantity, condition ≠ clean)."""
    for quantity in quantities(pset, label_threshold):
        clean = quantity.values[CLEAN].astype(np.float64)
        for cond, values in quantity.values.items():
            if cond == CLEAN:
                continue
            after = values.astype(np.float64)
            diff = after - clean
            row = {
                "encoder": pset.encoder,
                "probe": pset.probe,
                "condition": cond,
                "task": quantity.task,
                "quantity": quantity.name,
                "n": len(diff),
                "clean_mean": clean.mean(),
                "mean": after.mean(),
                "shift": diff.mean(),
                "abs_shift": np.abs(diff).mean(),
            }
            if quantity.binary:
                row |= {"p_value": mcnemar_exact(clean, after), "effect_size": np.nan}
                row |= {"sd_ratio": np.nan, "sd_p_value": np.nan}
            else:
                test = signed_rank(diff)
                ratio, sd_p = pitman_morgan(clean, after)
                row |= {"p_value": test.p_value, "effect_size": test.rank_biserial}
                row |= {"sd_ratio": ratio, "sd_p_value": sd_p}
            yield row, diff


def dose_groups(conditions: dict[str, ConditionInfo]) -> dict[str, list[ConditionInfo]]:
    """Single-effect groups (effect × loudness policy) with ≥ 2 numeric levels, sorted by level."""
    groups: dict[str, list[ConditionInfo]] = {}
    for c in conditions.values():
        if c.kind in ("effect", "plugin") and c.level is not None:
            groups.setdefault(c.group, []).append(c)
    return {g: sorted(cs, key=lambda c: c.level) for g, cs in groups.items() if len(cs) >= 2}


def dose_response_table(
    pset: PredictionSet,
    conditions: dict[str, ConditionInfo],
    params: AnalysisParams,
    seed: int,
) -> pd.DataFrame:
    """Slope of the mean shift over an effect's levels, per quantity, with a track-bootstrap CI."""
    rows = []
    for group, members in dose_groups(conditions).items():
        members = [c for c in members if c.id in pset.frames]
        if len(members) < 2:
            continue
        levels = np.array([c.level for c in members])
        for quantity in quantities(pset, params.label_threshold):
            clean = quantity.values[CLEAN].astype(np.float64)
            shifts = np.stack([quantity.values[c.id] - clean for c in members], axis=1)
            value, (low, high), p = dose_response(levels, shifts, params, seed)
            rows.append(
                {
                    "encoder": pset.encoder,
                    "probe": pset.probe,
                    "group": group,
                    "quantity": quantity.name,
                    "levels": len(levels),
                    "slope": value,
                    "ci_low": low,
                    "ci_high": high,
                    "p_value": p,
                }
            )
    return pd.DataFrame(rows)


def share_tests(pset: PredictionSet, conditions: dict[str, ConditionInfo]) -> pd.DataFrame:
    """Chi-square tests of predicted-quadrant shares: each condition vs clean, and each effect
    over clean + all its levels (the seed paper's test); BH within each scope
    (:func:`correct_share_tests`)."""
    if not (pset.has_classification or pset.has_regression):
        return pd.DataFrame()
    counts = {
        c: np.bincount(predicted_quadrants(f), minlength=5)[1:] for c, f in pset.frames.items()
    }
    rows = []
    for cond in counts:
        if cond != CLEAN:
            rows.append(("condition", cond, *chi2_shares(np.stack([counts[CLEAN], counts[cond]]))))
    for group, members in dose_groups(conditions).items():
        ids = [CLEAN] + [c.id for c in members if c.id in counts]
        if len(ids) > 2:
            rows.append(("effect", group, *chi2_shares(np.stack([counts[i] for i in ids]))))
    table = pd.DataFrame(rows, columns=["scope", "name", "chi2", "p_value"])
    table.insert(0, "probe", pset.probe)
    table.insert(0, "encoder", pset.encoder)
    return correct_share_tests(table)


def correct_share_tests(table: pd.DataFrame) -> pd.DataFrame:
    """BH per scope over the whole table: all condition-vs-clean tests of every encoder and probe
    form one family, all per-effect tests another."""
    if table.empty:
        return table
    parts = [
        correct_family(part, f"quadrant shares: every {scope}-scope chi-square test of the table")
        for scope, part in table.groupby("scope", sort=False)
    ]
    return pd.concat(parts).loc[table.index]


def shift_magnitudes(pset: PredictionSet) -> dict[str, np.ndarray]:
    """Per-track size of the whole prediction change vs clean, for every condition ≠ clean.

    Regression: Euclidean length of (Δvalence, Δarousal); classification: total-variation
    distance of the quadrant probabilities; multi-label: mean |Δprobability| over labels.
    """
    frames = pset.frames
    if pset.has_regression:
        columns, reduce = [f"pred_{c}" for c in REGRESSION_TARGETS.values()], "norm"
    elif pset.has_classification:
        columns, reduce = [c for c in QUADRANT_PROBS if c in frames[CLEAN]], "tv"
    else:
        columns, reduce = [f"prob_{n}" for n in pset.label_names], "mean"
    if not columns:
        return {}
    clean = frames[CLEAN][columns].to_numpy(np.float64)
    out = {}
    for cond, frame in frames.items():
        if cond == CLEAN:
            continue
        delta = frame[columns].to_numpy(np.float64) - clean
        if reduce == "norm":
            out[cond] = np.linalg.norm(delta, axis=1)
        elif reduce == "tv":
            out[cond] = 0.5 * np.abs(delta).sum(axis=1)
        else:
            out[cond] = np.abs(delta).mean(axis=1)
    return out


def magnitude_table(
    pset: PredictionSet,
    conditions: dict[str, ConditionInfo],
    params: AnalysisParams,
    seed: int,
) -> pd.DataFrame:
    """Mean shift magnitude per condition with a bootstrap CI (compares chains with effects)."""
    rows = []
    for cond, values in shift_magnitudes(pset).items():
        low, high = mean_ci(values, params, seed)
        info = conditions[cond]
        rows.append(
            {
                "encoder": pset.encoder,
                "probe": pset.probe,
                "condition": cond,
                "kind": info.kind,
                "loudness": info.loudness,
                "magnitude": values.mean(),
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pd.DataFrame(rows)


CHAIN_FAMILY = "chains vs single effects: every chain × encoder × probe of the table"


def chain_tests(pset: PredictionSet, conditions: dict[str, ConditionInfo]) -> pd.DataFrame:
    """Does a chain move each track's prediction more than the chain's single effects do?

    Per track: shift size under the chain (:func:`shift_magnitudes`) minus its mean shift size
    under the chain's single effects (the run's one-step conditions of an effect the chain
    contains, any level, under the chain's loudness policy); one-sided Wilcoxon signed-rank test
    over tracks, BH over the table (:func:`correct_chain_tests`). A chain none of whose effects
    the run has alone is not tested.
    """
    magnitudes = shift_magnitudes(pset)
    rows = []
    for chain, chain_size in magnitudes.items():
        info = conditions[chain]
        if info.kind != "chain":
            continue
        effects = {step["effect"] for step in json.loads(info.steps_key)[1]}
        singles = [
            c
            for c in magnitudes
            if conditions[c].kind == "effect"
            and conditions[c].loudness == info.loudness
            and conditions[c].effect in effects
        ]
        if not singles:
            continue
        single_size = np.mean([magnitudes[c] for c in singles], axis=0)
        diff = chain_size - single_size
        test = signed_rank(diff, alternative="greater")
        rows.append(
            {
                "encoder": pset.encoder,
                "probe": pset.probe,
                "chain": chain,
                "singles": " ".join(singles),
                "n": len(diff),
                "chain_magnitude": chain_size.mean(),
                "single_magnitude": single_size.mean(),
                "difference": diff.mean(),
                "effect_size": test.rank_biserial,
                "p_value": test.p_value,
            }
        )
    return correct_chain_tests(pd.DataFrame(rows))


def correct_chain_tests(table: pd.DataFrame) -> pd.DataFrame:
    """BH over every chain test of the table (all chains × encoders × probes)."""
    return correct_family(table, CHAIN_FAMILY)
