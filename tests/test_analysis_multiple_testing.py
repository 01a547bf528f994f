"""Multiple testing: each table is one BH family, and the corrected family controls the FDR.

The planted-null test simulates many reports in which most conditions move nothing and a few
move valence, runs the analysis's own test and correction code on each (``shift_tests`` +
``correct_shifts``) and counts false discoveries: the realised FDR must stay at the BH level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emofx.analysis.loading import CLEAN, PredictionSet
from emofx.analysis.shifts import correct_chain_tests, correct_shifts, shift_tests
from emofx.analysis.statistics import correct_family, signed_rank

ALPHA = 0.05
N_TRACKS = 40
N_NULL, N_REAL = 8, 2
PROBES = ("ridge", "mlp")
REAL_SHIFT = 0.06


def simulated_report(rng: np.random.Generator) -> pd.DataFrame:
    """The shift table of one simulated run: 2 probes × 10 conditions × 6 quantities; the
    ``real`` conditions move valence (and so the quadrant shares), never arousal."""
    psets = []
    for probe in PROBES:
        valence, arousal = rng.normal(0, 0.4, (2, N_TRACKS))
        frames = {CLEAN: (valence, arousal)}
        for i in range(N_NULL + N_REAL):
            shift = REAL_SHIFT if i >= N_NULL else 0.0
            noise = rng.normal(0, 0.1, (2, N_TRACKS))
            frames[f"real{i}" if shift else f"null{i}"] = (
                valence + shift + noise[0],
                arousal + noise[1],
            )
        psets.append(
            PredictionSet(
                "enc",
                probe,
                {
                    c: pd.DataFrame({"pred_valence_norm": v, "pred_arousal_norm": a})
                    for c, (v, a) in frames.items()
                },
            )
        )
    return correct_shifts(pd.concat([shift_tests(p, 0.5) for p in psets], ignore_index=True))


def false_discovery_proportion(table: pd.DataFrame, column: str) -> tuple[float, int]:
    found = table[table[column] < ALPHA]
    null = found["condition"].str.startswith("null") | (found["quantity"] == "arousal")
    false = int(null.sum())
    return false / max(len(found), 1), len(found) - false


def test_planted_null_realised_fdr_stays_at_the_bh_level():
    rng = np.random.default_rng(7)
    corrected, uncorrected, true_found = [], [], []
    for _ in range(50):
        table = simulated_report(rng)
        fdp, found = false_discovery_proportion(table, "q_value")
        corrected.append(fdp)
        true_found.append(found)
        uncorrected.append(false_discovery_proportion(table, "p_value")[0])
    assert table["family"].nunique() == 1 and table["family"].iloc[0].endswith(
        f"(m = {len(PROBES) * (N_NULL + N_REAL) * 6})"
    )
    # BH controls the FDR at m0/m·α ≤ α; 0.03 is about three standard errors over 50 reports
    assert np.mean(corrected) <= ALPHA + 0.03, np.mean(corrected)
    assert np.mean(uncorrected) > 0.15  # without the correction the same reports fail
    assert np.mean(true_found) >= 2  # and the planted shifts are found


def test_one_family_spans_the_whole_table_and_is_named():
    p = np.array([0.001, 0.02, 0.03, 0.2, np.nan, 0.04])
    table = correct_family(pd.DataFrame({"p_value": p}), "demo")
    expected = stats.false_discovery_control(p[~np.isnan(p)], method="bh")
    np.testing.assert_allclose(table["q_value"].dropna(), expected)
    assert np.isnan(table["q_value"].iloc[4])
    assert set(table["family"]) == {"demo (m = 5)"}
    # per-probe correction is weaker than correcting the concatenated table
    halves = [correct_family(pd.DataFrame({"p_value": h}), "half") for h in (p[:3], p[3:])]
    assert halves[0]["q_value"].iloc[1] < table["q_value"].iloc[1]


def test_chain_tests_are_one_family_and_one_sided():
    d = np.linspace(0.01, 0.2, 30)
    assert signed_rank(d, "greater").p_value < 1e-6
    assert signed_rank(-d, "greater").p_value > 0.99
    rows = pd.DataFrame({"chain": ["a", "b", "c"], "p_value": [0.01, 0.02, 0.5]})
    table = correct_chain_tests(rows)
    assert table["q_value"].tolist() == pytest.approx([0.03, 0.03, 0.5])
    assert table["family"].iloc[0].startswith("chains vs single effects")
