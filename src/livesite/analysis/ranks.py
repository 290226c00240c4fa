"""Mann-Whitney U (Wilcoxon rank-sum) with a Hodges–Lehmann shift and its interval — pure statistics.

As Kayenta does (and R's ``wilcox.test``): the normal approximation with tie and continuity
corrections, and the exact distribution of U for small samples without ties (as scipy's ``auto``:
one side of at most 8). Unlike Kayenta, the variance of U can be inflated by ``inflation``, the
long-run variance factor of an autocorrelated series (see :func:`rank_inflation`): consecutive
latency samples are not independent, and treating them as such is what gives Kayenta 17–19% false
alarms on AR(1) φ = 0.7 series.

Convention: U is the canary's, the count of (canary, baseline) pairs where the canary is larger,
ties counting one half; a shift is canary minus baseline.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from livesite.analysis.numeric import normal_cdf, normal_quantile, normal_sf

Alternative = Literal["greater", "less", "two-sided"]
# One side at most this long, and no ties: count the exact distribution of U (scipy's rule).
EXACT_MAX_SIDE = 8
# Above this many pairs, find order statistics of the differences by bisection, not by sorting them.
MATERIALISE_MAX_PAIRS = 250_000


@dataclass(frozen=True, slots=True)
class RankSum:
    u: float  # the canary's U
    z: float | None  # None when the p-value is exact
    p_value: float
    exact: bool
    sd_u: float  # standard deviation of U under the null, ties and inflation included


def average_ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """1-based ranks with ties given their average rank, and the tie term Σ(t³ − t)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    tie_term = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[order[k]] = rank
        t = j - i + 1
        tie_term += t * t * t - t
        i = j + 1
    return ranks, tie_term


def u_variance(m: int, n: int, tie_term: float) -> float:
    """Var(U) under the null for sides of m and n with the tie correction."""
    total = m + n
    if total < 2:
        return 0.0
    return m * n / 12.0 * ((total + 1) - tie_term / (total * (total - 1)))


def exact_u_counts(m: int, n: int) -> list[int]:
    """How many of the C(m+n, m) orderings give U = 0, 1, …, m·n (no ties).

    The generating function is the Gaussian binomial ∏ᵢ (1 − q^(n+i)) / (1 − q^i), i = 1..m: multiply
    by each numerator and divide by each denominator in turn, all in integers.
    """
    size = m * n + 1
    poly = [0] * size
    poly[0] = 1
    for i in range(1, m + 1):
        shift = n + i
        for k in range(size - 1, shift - 1, -1):  # × (1 − q^shift)
            poly[k] -= poly[k - shift]
        for k in range(i, size):  # ÷ (1 − q^i)
            poly[k] += poly[k - i]
    return poly


Ranked = tuple[list[float], float]  # average_ranks of baseline + canary, and its tie term


def rank_sum(
    baseline: Sequence[float],
    canary: Sequence[float],
    alternative: Alternative,
    inflation: float = 1.0,
    ranked: Ranked | None = None,
) -> RankSum:
    """The Mann-Whitney test of ``canary`` against ``baseline``.

    ``greater``: is the canary stochastically larger? ``inflation`` (≥ 1) multiplies Var(U); with
    inflation the exact distribution no longer holds, so the normal approximation is used.
    ``ranked`` saves ranking again when the caller already has :func:`average_ranks` of both.
    """
    m, n = len(baseline), len(canary)
    ranks, tie_term = ranked or average_ranks([*baseline, *canary])
    u = sum(ranks[m:]) - n * (n + 1) / 2.0
    sd = math.sqrt(u_variance(m, n, tie_term) * inflation)
    if tie_term == 0 and inflation == 1.0 and min(m, n) <= EXACT_MAX_SIDE:
        counts = exact_u_counts(m, n)
        total = sum(counts)
        k = round(u)
        upper = sum(counts[k:]) / total  # P(U >= u)
        lower = sum(counts[: k + 1]) / total  # P(U <= u)
        p = {"greater": upper, "less": lower, "two-sided": min(1.0, 2.0 * min(upper, lower))}[alternative]
        return RankSum(u=u, z=None, p_value=p, exact=True, sd_u=sd)
    mean = m * n / 2.0
    if sd == 0.0:  # every value equal: no evidence of any difference
        return RankSum(u=u, z=0.0, p_value=1.0, exact=False, sd_u=0.0)
    if alternative == "greater":
        z = (u - mean - 0.5) / sd
        p = normal_sf(z)
    elif alternative == "less":
        z = (u - mean + 0.5) / sd
        p = normal_cdf(z)
    else:
        z = (abs(u - mean) - 0.5) / sd
        p = min(1.0, 2.0 * normal_sf(z))
        z = math.copysign(z, u - mean)
    return RankSum(u=u, z=z, p_value=p, exact=False, sd_u=sd)


@dataclass(frozen=True, slots=True)
class Shift:
    estimate: float  # Hodges–Lehmann: the median of all canary − baseline differences
    low: float | None  # None: too few samples to bound the shift at this confidence
    high: float | None
    confidence: float


def shift_interval(
    baseline: Sequence[float], canary: Sequence[float], confidence: float, sd_u: float
) -> Shift:
    """The Hodges–Lehmann shift and its distribution-free interval (order statistics of the m·n
    differences, chosen with the normal approximation of U, continuity corrected; ``sd_u`` carries
    ties and inflation), so that the lower bound is above 0 exactly when the one-sided test at
    (1 − confidence) / 2 rejects."""
    m, n = len(baseline), len(canary)
    pairs = m * n
    kth = _kth_difference(baseline, canary)
    estimate = kth(pairs // 2 + 1) if pairs % 2 else (kth(pairs // 2) + kth(pairs // 2 + 1)) / 2.0
    z = normal_quantile(1.0 - (1.0 - confidence) / 2.0)
    k = math.floor(pairs / 2.0 + 0.5 - z * sd_u)
    if k < 1:
        return Shift(estimate=estimate, low=None, high=None, confidence=confidence)
    return Shift(estimate=estimate, low=kth(k), high=kth(pairs + 1 - k), confidence=confidence)


def _kth_difference(baseline: Sequence[float], canary: Sequence[float]) -> Callable[[int], float]:
    if len(baseline) * len(canary) <= MATERIALISE_MAX_PAIRS:
        diffs = [c - b for c in canary for b in baseline]  # a list first: twice as fast as a generator
        diffs.sort()
        return lambda k: diffs[k - 1]
    return _BisectedKth(sorted(baseline), sorted(canary))


class _BisectedKth:
    """The k-th smallest canary − baseline difference without building all m·n of them: bisect on
    the value, counting the differences at or below it in one merge-like pass."""

    def __init__(self, baseline: list[float], canary: list[float]) -> None:
        self.baseline = baseline
        self.canary = canary

    def _count_at_most(self, d: float) -> int:
        # For each canary value c (ascending), count baseline values b >= c − d; c − d ascends too.
        count, i, m = 0, 0, len(self.baseline)
        for c in self.canary:
            while i < m and self.baseline[i] < c - d:
                i += 1
            count += m - i
        return count

    def __call__(self, k: int) -> float:
        lo = self.canary[0] - self.baseline[-1]
        hi = self.canary[-1] - self.baseline[0]
        for _ in range(200):
            mid = (lo + hi) / 2.0
            if mid in (lo, hi):
                break
            if self._count_at_most(mid) >= k:
                hi = mid
            else:
                lo = mid
        return hi


def lag1_autocorrelation(series: Sequence[Sequence[float]]) -> float | None:
    """Pooled lag-1 autocorrelation of several series, each around its own mean; None if undefined."""
    numerator = denominator = 0.0
    for values in series:
        if len(values) < 2:
            continue
        mean = sum(values) / len(values)
        d = [v - mean for v in values]
        numerator += sum(a * b for a, b in itertools.pairwise(d))
        denominator += sum(a * a for a in d)
    if denominator == 0.0:
        return None
    return numerator / denominator


def rank_inflation(
    baseline: Sequence[float], canary: Sequence[float], margin: float, ranked: Ranked | None = None
) -> tuple[float | None, float]:
    """The lag-1 autocorrelation of the rank series and the variance factor to apply to U.

    The projection of U on single observations is a sum of F(x) over each side's series, so Var(U)
    grows like the long-run variance of the *rank* series: for an AR(1) with coefficient ρ over n
    points, 1 + 2 Σₖ (1 − k/n) ρᵏ. ρ is estimated from both sides' rank series (each around its own
    mean), corrected for its known downward bias ((1 + 3ρ)/n, Marriott and Pope), then raised by
    ``margin`` standard errors: on short series an underestimated ρ is what inflates false alarms,
    while an overestimated one only costs a little power.
    """
    m, n = len(baseline), len(canary)
    ranks, _ = ranked or average_ranks([*baseline, *canary])
    r = lag1_autocorrelation([ranks[:m], ranks[m:]])
    if r is None:
        return None, 1.0
    length = (m + n) / 2.0
    if length <= 4:
        return r, 1.0
    corrected = (r * length + 1.0) / (length - 3.0)
    corrected = max(-0.99, min(0.99, corrected))
    used = corrected + margin * math.sqrt(max(0.0, 1.0 - corrected * corrected) / (m + n))
    used = min(0.98, used)
    if used <= 0.0:
        return corrected, 1.0
    return corrected, _ar1_mean_factor(used, length)


def _ar1_mean_factor(rho: float, n: float) -> float:
    """n · Var(mean of n AR(1) points) / Var(one point)."""
    return float((1.0 + rho) / (1.0 - rho) - 2.0 * rho * (1.0 - rho**n) / (n * (1.0 - rho) ** 2))
