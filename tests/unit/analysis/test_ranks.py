"""The rank test's statistics against the reference: scipy.stats.mannwhitneyu's values (scipy 1.17,
computed once and written down here, since scipy is not a dependency), and hand-counted ones."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from livesite.analysis.ranks import (
    _BisectedKth,
    average_ranks,
    exact_u_counts,
    rank_inflation,
    rank_sum,
    shift_interval,
    u_variance,
)

BASELINE = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
CANARY = [1.15, 0.88, 0.90, 0.74, 1.21, 1.53, 2.02, 1.99, 2.11, 1.77, 1.61]


@pytest.mark.parametrize(
    ("alternative", "p"),
    [("greater", 0.2090259542678003), ("less", 0.8106308740567348), ("two-sided", 0.4180519085356006)],
)
def test_the_normal_approximation_matches_scipy_with_continuity_correction(
    alternative: str, p: float
) -> None:
    # Eleven on one side: scipy's `auto` would use this approximation too (no side of 8 or fewer).
    found = rank_sum(BASELINE, CANARY, alternative)  # type: ignore[arg-type]
    assert found.u == 67.0
    assert not found.exact
    assert found.p_value == pytest.approx(p, rel=1e-12)


@pytest.mark.parametrize(
    ("alternative", "p"),
    [("greater", 0.01640108511793482), ("less", 0.9857098292164035), ("two-sided", 0.03280217023586964)],
)
def test_ties_get_the_tie_corrected_variance_as_in_scipy(alternative: str, p: float) -> None:
    baseline = [1, 2, 2, 3, 3, 3, 4, 5, 5, 6, 7, 7]
    canary = [2, 3, 4, 4, 5, 6, 6, 7, 8, 8, 9, 9, 10]
    found = rank_sum(baseline, canary, alternative)  # type: ignore[arg-type]
    assert found.u == 117.5
    assert found.p_value == pytest.approx(p, rel=1e-12)


@pytest.mark.parametrize(
    ("alternative", "p"),
    [("greater", 0.015151515151515152), ("less", 0.9913419913419913), ("two-sided", 0.030303030303030304)],
)
def test_small_samples_without_ties_get_the_exact_distribution_as_in_scipy(
    alternative: str, p: float
) -> None:
    found = rank_sum([3.1, 4.5, 2.2, 5.0, 3.3], [4.8, 6.1, 5.5, 3.9, 7.2, 6.6], alternative)  # type: ignore[arg-type]
    assert found.exact
    assert found.u == 27.0
    assert found.p_value == pytest.approx(p, rel=1e-12)


def test_the_exact_distribution_counts_every_ordering_once() -> None:
    for m, n in [(1, 1), (3, 4), (5, 6), (8, 8)]:
        counts = exact_u_counts(m, n)
        assert sum(counts) == math.comb(m + n, m)
        assert counts == counts[::-1]  # symmetric around m·n/2
        assert all(c >= 0 for c in counts)
    # By hand: 2 vs 2 has orderings with U = 0, 1, 2, 2, 3, 4.
    assert exact_u_counts(2, 2) == [1, 1, 2, 1, 1]


def test_average_ranks_share_ties() -> None:
    ranks, tie_term = average_ranks([10.0, 20.0, 20.0, 30.0, 20.0])
    assert ranks == [1.0, 3.0, 3.0, 5.0, 3.0]
    assert tie_term == 3**3 - 3


def test_the_hodges_lehmann_shift_is_the_median_of_pairwise_differences() -> None:
    baseline, canary = [1.0, 2.0, 4.0], [3.0, 5.0, 9.0]
    # Differences canary − baseline: 2 1 -1 / 4 3 1 / 8 7 5 → sorted -1 1 1 2 3 4 5 7 8 → median 3.
    shift = shift_interval(baseline, canary, 0.9, math.sqrt(u_variance(3, 3, 0.0)))
    assert shift.estimate == 3.0
    diffs = sorted(c - b for c, b in itertools.product(canary, baseline))
    assert shift.estimate == diffs[len(diffs) // 2]


def test_the_interval_is_bounded_by_order_statistics_chosen_from_the_normal_approximation() -> None:
    baseline = [float(x) for x in range(20)]
    canary = [x + 10.0 for x in baseline]
    sd = math.sqrt(u_variance(20, 20, 0.0))
    shift = shift_interval(baseline, canary, 0.95, sd)
    # k = floor(400/2 + 0.5 − 1.959964·√(20·20·41/12)) = floor(200.5 − 72.46) = 128
    diffs = sorted(c - b for c in canary for b in baseline)
    assert shift.estimate == 10.0
    assert (shift.low, shift.high) == (diffs[127], diffs[400 - 128])
    assert shift.low is not None and shift.high is not None
    assert shift.low < 10.0 < shift.high


def test_too_few_samples_leave_the_interval_unbounded() -> None:
    shift = shift_interval([1.0, 2.0], [3.0, 4.0], 0.99, math.sqrt(u_variance(2, 2, 0.0)))
    assert shift.estimate == 2.0
    assert (shift.low, shift.high) == (None, None)


def test_bisection_finds_the_same_order_statistics_as_sorting() -> None:
    rng = random.Random(4)
    baseline = sorted(rng.gauss(0, 1) for _ in range(37))
    canary = sorted(rng.gauss(0.3, 1) for _ in range(41))
    diffs = sorted(c - b for c in canary for b in baseline)
    kth = _BisectedKth(baseline, canary)
    for k in (1, 2, 100, 758, 759, 1516, len(diffs)):
        assert kth(k) == pytest.approx(diffs[k - 1], abs=1e-12)


def test_independent_series_need_no_inflation_and_ar1_series_do() -> None:
    rng = random.Random(11)
    independent = [rng.gauss(0, 1) for _ in range(400)]
    _, factor = rank_inflation(independent[:200], independent[200:], margin=0.0)
    assert factor < 1.3
    x, series = 0.0, []
    for _ in range(400):
        x = 0.7 * x + rng.gauss(0, 1)
        series.append(x)
    rho, factor = rank_inflation(series[:200], series[200:], margin=0.0)
    assert rho is not None and 0.55 < rho < 0.8
    assert 3.0 < factor < 7.0  # (1 + 0.68) / (1 − 0.68) ≈ 5.3 for the rank series


def test_scipy_agrees_on_random_data_when_it_is_installed() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(5)
    for _ in range(20):
        b = [round(rng.gauss(0, 1), 1) for _ in range(rng.randint(9, 40))]
        c = [round(rng.gauss(0.2, 1), 1) for _ in range(rng.randint(9, 40))]
        for alternative in ("greater", "less", "two-sided"):
            ours = rank_sum(b, c, alternative)  # type: ignore[arg-type]
            theirs = stats.mannwhitneyu(c, b, alternative=alternative, method="asymptotic")
            assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)
