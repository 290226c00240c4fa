"""The anytime-valid rate test: looking after every interval does not inflate false alarms."""

from __future__ import annotations

import random

import pytest

from livesite.analysis import SequentialSpec, judge_sequential
from livesite.analysis import simulate as sim
from livesite.analysis.numeric import binomial_sf


def test_it_stops_early_on_sparse_errors_against_none() -> None:
    rng = random.Random(3)
    baseline, canary = sim.counts(rng, 60, 0.0), sim.counts(rng, 60, 0.3)
    stops = [k for k in range(1, 61) if judge_sequential(baseline[:k], canary[:k]).outcome == "fail"]
    assert stops, "never stopped"
    verdict = judge_sequential(baseline[: stops[0]], canary[: stops[0]])
    assert verdict.statistic is not None and verdict.bound == 200.0 and verdict.statistic >= 200.0
    assert "conclusive" in verdict.reason


def test_until_then_it_says_keep_going_and_never_passes() -> None:
    verdict = judge_sequential([(1, 100)] * 5, [(1, 100)] * 5)
    assert verdict.outcome == "inconclusive"
    assert "keep going" in verdict.reason


def fixed_p(baseline: list[tuple[int, int]], canary: list[tuple[int, int]]) -> float:
    """The rate judge's p-value with no minimum effect (ratio 1): equal trials, so p0 = share of trials."""
    eb, ec = sum(e for e, _ in baseline), sum(e for e, _ in canary)
    tb, tc = sum(t for _, t in baseline), sum(t for _, t in canary)
    return binomial_sf(ec, eb + ec, tc / (tb + tc))


def test_many_looks_at_a_a_data_stay_under_alpha_where_a_fixed_test_does_not() -> None:
    # 20 looks at A/A counts with 5% errors. The fixed test, re-run at every look with no minimum
    # effect, is fooled far more often than its alpha; the e-process keeps under alpha.
    rng = random.Random(12)
    spec = SequentialSpec(alpha=0.05, min_rate_ratio=1.0)
    sequential_alarms = fixed_alarms = 0
    runs, looks = 100, 20
    for _ in range(runs):
        b, c = sim.counts(rng, looks, 5.0), sim.counts(rng, looks, 5.0)
        sequential_alarms += any(
            judge_sequential(b[:k], c[:k], spec=spec).outcome == "fail" for k in range(1, looks + 1)
        )
        fixed_alarms += any(fixed_p(b[:k], c[:k]) < 0.05 for k in range(1, looks + 1))
    assert sequential_alarms / runs <= 0.05
    assert fixed_alarms / runs > 0.10


def test_intervals_must_pair_up() -> None:
    with pytest.raises(ValueError, match="pairs intervals"):
        judge_sequential([(0, 10)], [(0, 10), (0, 10)])


def test_fewer_errors_are_caught_when_fewer_is_bad() -> None:
    verdict = judge_sequential([(50, 1000)] * 10, [(5, 1000)] * 10, direction="decrease")
    assert verdict.outcome == "fail"
    assert (
        judge_sequential([(50, 1000)] * 10, [(5, 1000)] * 10, direction="increase").outcome == "inconclusive"
    )
