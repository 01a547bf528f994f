"""The statistical tests and intervals the FX impact tables use, thin over scipy.stats.

Bootstrap resampling is over tracks: paired statistics index every array with the same resampled
track indices (scipy's ``bootstrap`` on ``arange(n)``), so clean and FX outputs stay paired.

Multiple testing: every table corrects across all the tests it shows (Benjamini–Hochberg over the
family, :func:`correct_family`) and names that family in a column, so a q-value below the FDR
level means the same thing wherever it appears.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from emofx.analysis.config import AnalysisParams

IndexStatistic = Callable[[np.ndarray], np.ndarray]
"""Maps track indices ``[..., n]`` to one value per leading index (vectorised over resamples)."""


class Interval(NamedTuple):
    low: float
    high: float


class SignedRank(NamedTuple):
    p_value: float
    rank_biserial: float  # matched-pairs rank-biserial correlation in [-1, 1]


def bootstrap_ci(statistic: IndexStatistic, n: int, params: AnalysisParams, seed: int) -> Interval:
    """Percentile CI of ``statistic`` over ``n`` tracks resampled with replacement."""
    if n < 2:
        return Interval(np.nan, np.nan)
    result = stats.bootstrap(
        (np.arange(n),),
        lambda idx, axis: statistic(idx),
        vectorized=True,
        n_resamples=params.n_bootstrap,
        confidence_level=params.confidence_level,
        method="percentile",
        batch=200,
        rng=np.random.default_rng(seed),
    )
    return Interval(float(result.confidence_interval.low), float(result.confidence_interval.high))


def mean_ci(values: np.ndarray, params: AnalysisParams, seed: int) -> Interval:
    """Bootstrap CI of the mean of ``values`` (per-track numbers, e.g. shifts or distances)."""
    values = np.asarray(values, dtype=np.float64)
    return bootstrap_ci(lambda idx: values[idx].mean(axis=-1), len(values), params, seed)


def signed_rank(differences: np.ndarray, alternative: str = "two-sided") -> SignedRank:
    """Wilcoxon signed-rank test of paired differences and its rank-biserial effect size.

    Zero differences are dropped (Wilcoxon's convention); all-zero input means no shift (p = 1).
    ``alternative="greater"``: one-sided, the differences tend to be positive.
    """
    d = np.asarray(differences, dtype=np.float64)
    d = d[d != 0]
    if len(d) == 0:
        return SignedRank(1.0, 0.0)
    p = float(stats.wilcoxon(d, zero_method="wilcox", alternative=alternative).pvalue)
    ranks = stats.rankdata(np.abs(d))
    positive, total = ranks[d > 0].sum(), ranks.sum()
    return SignedRank(p, float((2 * positive - total) / total))


def pitman_morgan(clean: np.ndarray, treated: np.ndarray) -> tuple[float, float]:
    """Spread of paired samples: ``(sd(treated) / sd(clean), p)`` of the Pitman–Morgan test.

    Equal variances of correlated x, y ⇔ zero correlation between x + y and x − y.
    """
    x, y = np.asarray(clean, dtype=np.float64), np.asarray(treated, dtype=np.float64)
    sd_x, sd_y = x.std(ddof=1), y.std(ddof=1)
    ratio = float(sd_y / sd_x) if sd_x > 0 else np.nan
    s, d = x + y, y - x
    if len(x) < 3 or s.std() == 0 or d.std() == 0:
        return ratio, 1.0 if sd_x == sd_y else np.nan
    return ratio, float(stats.pearsonr(s, d).pvalue)


def fdr(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN entries stay NaN and are not counted."""
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q


def correct_family(
    table: pd.DataFrame,
    name: str,
    p_column: str = "p_value",
    q_column: str = "q_value",
    family_column: str = "family",
) -> pd.DataFrame:
    """``table`` with BH q-values over all its ``p_column`` tests (one family) and the family
    named in ``family_column`` as ``<name> (m = <tests>)``; rows without a test (NaN p) get NaN q
    and are not counted."""
    if table.empty:
        return table
    m = int(table[p_column].notna().sum())
    return table.assign(
        **{q_column: fdr(table[p_column].to_numpy()), family_column: f"{name} (m = {m})"}
    )


def family_name(table: pd.DataFrame, column: str = "family") -> str:
    """The multiple-testing family (or families) of ``table``'s q-values, for a caption."""
    names = table[column].dropna().unique() if column in table else []
    return "; ".join(names) if len(names) else "the tests shown"


def chi2_shares(counts: np.ndarray) -> tuple[float, float]:
    """Chi-square test of independence on a conditions × classes count table → ``(chi2, p)``.

    Classes never predicted under any condition are dropped (their expected count is zero).
    """
    table = np.asarray(counts, dtype=np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return np.nan, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def mcnemar_exact(before: np.ndarray, after: np.ndarray) -> float:
    """Exact McNemar test of paired binary outcomes (binomial test on the discordant pairs)."""
    before, after = np.asarray(before, dtype=bool), np.asarray(after, dtype=bool)
    gained, lost = int((~before & after).sum()), int((before & ~after).sum())
    if gained + lost == 0:
        return 1.0
    return float(stats.binomtest(gained, gained + lost).pvalue)


def slope(levels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``values[..., k]`` over ``levels[k]``, vectorised over batches."""
    x = np.asarray(levels, dtype=np.float64) - np.mean(levels)
    return (values * x).sum(axis=-1) / (x**2).sum()


def dose_response(
    levels: np.ndarray, shifts: np.ndarray, params: AnalysisParams, seed: int
) -> tuple[float, Interval, float]:
    """Slope of the mean shift over levels, its track-bootstrap CI, and linregress's p-value.

    ``shifts`` is ``[n_tracks, n_levels]`` (per-track shift vs clean at each level).
    """
    shifts = np.asarray(shifts, dtype=np.float64)
    fit = stats.linregress(levels, shifts.mean(axis=0))
    ci = bootstrap_ci(
        lambda idx: slope(levels, shifts[idx].mean(axis=-2)), len(shifts), params, seed
    )
    p = float(fit.pvalue) if len(levels) > 2 else np.nan
    return float(fit.slope), ci, p


def song_pearson(truth: list[np.ndarray], prediction: list[np.ndarray]) -> np.ndarray:
    """Pearson r per song; NaN where the annotation or prediction is constant (r undefined).

    Songs of equal length go through one vectorised ``scipy.stats.pearsonr`` call.
    """
    r = np.full(len(truth), np.nan)
    by_length: dict[int, list[int]] = {}
    for i, (y, p) in enumerate(zip(truth, prediction, strict=True)):
        if len(y) > 1 and np.ptp(y) > 0 and np.ptp(p) > 0:
            by_length.setdefault(len(y), []).append(i)
    for ids in by_length.values():
        y, p = np.stack([truth[i] for i in ids]), np.stack([prediction[i] for i in ids])
        r[ids] = stats.pearsonr(y, p, axis=1).statistic
    return r
