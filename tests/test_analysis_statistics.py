"""The analysis statistics against scipy and against data with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from emofx.analysis.config import AnalysisParams
from emofx.analysis.statistics import (
    bootstrap_ci,
    chi2_shares,
    dose_response,
    fdr,
    mcnemar_exact,
    mean_ci,
    pitman_morgan,
    signed_rank,
    slope,
)

PARAMS = AnalysisParams(n_bootstrap=400)


def test_signed_rank_matches_scipy_and_a_hand_computed_effect_size():
    d = np.array([1.0, -2.0, 3.0, 4.0, 0.0])
    result = signed_rank(d)
    # zero dropped; ranks of |d| = 1, 2, 3, 4 → T+ = 8, T− = 2 → r = (8 − 2) / 10
    assert result.rank_biserial == pytest.approx(0.6)
    assert result.p_value == pytest.approx(stats.wilcoxon(d[d != 0]).pvalue)
    rng = np.random.default_rng(0)
    x = rng.normal(0.3, 1, 80)
    assert signed_rank(x).p_value == pytest.approx(stats.wilcoxon(x).pvalue)
    assert signed_rank(np.abs(x)).rank_biserial == 1.0
    assert signed_rank(np.zeros(10)) == (1.0, 0.0)


def test_pitman_morgan_detects_a_wider_spread_and_not_an_equal_one():
    rng = np.random.default_rng(1)
    clean = rng.normal(0, 1, 200)
    wider = 1.5 * clean + rng.normal(0, 0.1, 200)
    ratio, p = pitman_morgan(clean, wider)
    assert ratio == pytest.approx(wider.std(ddof=1) / clean.std(ddof=1))
    assert ratio > 1.4 and p < 1e-10
    # the test is the correlation of sum and difference: check against its t form
    r = stats.pearsonr(clean + wider, wider - clean).statistic
    t = r * np.sqrt(198 / (1 - r**2))
    assert p == pytest.approx(2 * stats.t.sf(abs(t), 198))
    # a permutation of clean has exactly its variance: cov(x + y, y − x) = var y − var x = 0
    ratio, p = pitman_morgan(clean, clean[::-1].copy())
    assert ratio == pytest.approx(1.0) and p == pytest.approx(1.0)


def test_fdr_matches_the_benjamini_hochberg_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    q = fdr(p)
    # sorted p = .005 .01 .03 .04 (m = 4): p·m/rank = .02 .02 .04 .04, then running minimum
    assert q[:4] == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert np.isnan(q[4])


def test_fdr_on_planted_nulls_keeps_the_false_discovery_rate_near_its_level():
    """900 true nulls and 100 real shifts per family, 30 families: the realised FDR stays at or
    below alpha (BH guarantees ≤ alpha · m0/m = 0.045) while most real shifts are found."""
    rng = np.random.default_rng(2)
    alpha, fdp, power = 0.05, [], []
    for _ in range(30):
        null = rng.normal(0, 1, (900, 30))
        real = rng.normal(0.8, 1, (100, 30))
        p = stats.wilcoxon(np.vstack([null, real]), axis=1).pvalue
        found = fdr(p) < alpha
        fdp.append(found[:900].sum() / max(found.sum(), 1))
        power.append(found[900:].mean())
    assert np.mean(fdp) < 0.07
    assert np.mean(power) > 0.8
    # without correction far more nulls would pass
    assert (p[:900] < alpha).sum() > 5 * (fdr(p)[:900] < alpha).sum()


def test_chi2_shares_matches_scipy_and_drops_never_predicted_classes():
    table = np.array([[10, 20, 30, 0], [25, 15, 20, 0]])
    chi2, p = chi2_shares(table)
    expected = stats.chi2_contingency(table[:, :3], correction=False)
    assert (chi2, p) == pytest.approx((expected.statistic, expected.pvalue))
    assert chi2_shares(np.array([[5, 0, 0, 0], [7, 0, 0, 0]]))[1] == 1.0


def test_mcnemar_exact_is_a_binomial_test_on_discordant_pairs():
    before = np.array([1] * 12 + [0] * 12 + [1] * 30, dtype=bool)
    after = np.array([0] * 2 + [1] * 10 + [1] * 12 + [1] * 30, dtype=bool)
    # gained 12 (0→1), lost 2 (1→0)
    assert mcnemar_exact(before, after) == pytest.approx(stats.binomtest(12, 14).pvalue)
    assert mcnemar_exact(before, before) == 1.0


def test_bootstrap_ci_covers_the_true_mean_at_about_its_level():
    rng = np.random.default_rng(3)
    hits = [
        low <= 1.0 <= high
        for low, high in (mean_ci(rng.normal(1.0, 2.0, 60), PARAMS, s) for s in range(150))
    ]
    assert 0.88 <= np.mean(hits) <= 0.99


def test_bootstrap_ci_is_paired_and_deterministic():
    rng = np.random.default_rng(4)
    a = rng.normal(0, 1, 50)
    b = a + 0.1  # perfectly paired: every resample has the same difference
    low, high = bootstrap_ci(lambda i: b[i].mean(-1) - a[i].mean(-1), 50, PARAMS, 0)
    assert low == pytest.approx(0.1) and high == pytest.approx(0.1)
    assert mean_ci(a, PARAMS, 7) == mean_ci(a, PARAMS, 7)


def test_dose_response_recovers_a_planted_slope():
    rng = np.random.default_rng(5)
    levels = np.array([2.0, 5.0, 8.0])
    shifts = 0.05 * levels + rng.normal(0, 0.1, (60, 3))
    value, (low, high), p = dose_response(levels, shifts, PARAMS, 0)
    assert value == pytest.approx(stats.linregress(levels, shifts.mean(0)).slope)
    assert low < 0.05 < high and low > 0
    assert slope(levels, np.tile(2 * levels, (4, 1))) == pytest.approx([2.0] * 4)
    assert np.isfinite(p)
