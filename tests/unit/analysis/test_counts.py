"""The rate judge: sparse errors caught, trivial increases forgiven, no data never a pass."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livesite.analysis import RateSpec, judge
from livesite.analysis import simulate as sim


def test_sparse_errors_against_none_are_caught() -> None:
    # Poisson(0.3) errors per interval of 100 requests vs none: what a rank test misses.
    rng = random.Random(9)
    caught = sim.counts_rate(
        lambda b, c, d: judge(b, c, "counts", d).outcome == "fail", rng, 100, 60, 0.0, 0.3
    )
    assert caught.rate >= 0.95, caught


def test_eighteen_errors_against_none_fail_and_explain() -> None:
    verdict = judge([(0, 100)] * 60, [(1, 100)] * 18 + [(0, 100)] * 42, "counts")
    assert verdict.outcome == "fail"
    assert verdict.p_value == pytest.approx((1.2 / 2.2) ** 18, rel=1e-9)  # all 18 events on the canary
    assert verdict.samples.canary_events == 18 and verdict.samples.baseline_trials == 6000
    assert verdict.effect is not None and verdict.effect.name == "rate ratio"
    assert verdict.effect.low is not None and verdict.effect.low > 1.2
    assert "18/6000" in verdict.reason and "0/6000" in verdict.reason


def test_three_errors_against_none_are_not_evidence() -> None:
    verdict = judge([(0, 100)] * 60, [(1, 100)] * 3 + [(0, 100)] * 57, "counts")
    assert verdict.outcome == "pass"


def test_a_trivially_small_increase_on_huge_traffic_is_not_a_fail() -> None:
    # 1.00% vs 1.05% of ten million requests: significant against ratio 1, not beyond 1.2.
    baseline = [(100_000, 10_000_000)]
    canary = [(105_000, 10_000_000)]
    verdict = judge(baseline, canary, "counts")
    assert verdict.outcome == "pass"
    assert judge(baseline, canary, "counts", spec=RateSpec(min_rate_ratio=1.0)).outcome == "fail"


def test_an_absolute_floor_forgives_rare_errors() -> None:
    verdict = judge([(0, 10_000_000)], [(20, 10_000_000)], "counts")
    assert verdict.outcome == "pass"  # 2 in a million more: under 0.01 points
    assert "under the floor" in verdict.reason


@pytest.mark.parametrize(
    ("baseline", "canary"), [([], []), ([(0, 0)] * 5, [(0, 0)] * 5), ([(0, 50)], [(0, 5000)])]
)
def test_no_data_is_never_a_pass(baseline: list[tuple[int, int]], canary: list[tuple[int, int]]) -> None:
    verdict = judge(baseline, canary, "counts")
    assert verdict.outcome == "inconclusive"
    assert "too few trials" in verdict.reason


@pytest.mark.parametrize(
    ("bad", "message"),
    [((5, 3), "5 events out of 3 trials"), ((-1, 3), "events -1"), ((1.5, 3), "events 1.5"), ((1,), "give")],
)
def test_impossible_counts_are_refused(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        judge([(0, 10)], [(0, 10), bad], "counts")  # type: ignore[list-item]


def test_bursty_errors_are_weighed_down_not_read_as_strong_evidence() -> None:
    # Both sides burst the same way (one bad interval in ten); the canary's burst is a bit bigger.
    baseline = [(40, 1000) if i % 10 == 0 else (0, 1000) for i in range(60)]
    canary = [(60, 1000) if i % 10 == 3 else (0, 1000) for i in range(60)]
    verdict = judge(baseline, canary, "counts")
    assert verdict.samples.variance_inflation is not None and verdict.samples.variance_inflation > 10
    assert verdict.outcome == "pass"
    assert "bursty" in verdict.reason


def test_fewer_errors_fail_only_when_fewer_is_bad() -> None:
    baseline, canary = [(30, 1000)] * 20, [(5, 1000)] * 20
    assert judge(baseline, canary, "counts", "increase").outcome == "pass"
    fewer = judge(baseline, canary, "counts", "decrease")
    assert fewer.outcome == "fail" and "less than 1/1.2 of the baseline's rate" in fewer.reason
    assert all(t.crossed for t in fewer.thresholds if t.name != "min trials per side")
    assert judge(baseline, canary, "counts", "either").outcome == "fail"


def test_a_a_counts_stay_quiet_over_a_seeded_batch() -> None:
    rng = random.Random(77)
    found = sim.counts_rate(
        lambda b, c, d: judge(b, c, "counts", d).outcome == "fail", rng, 300, 60, 2.0, 2.0
    )
    assert found.rate <= 0.01, found


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(50, 500)), min_size=1, max_size=20),
    st.lists(st.tuples(st.integers(0, 50), st.integers(50, 500)), min_size=1, max_size=20),
)
def test_swapping_sides_flips_the_direction(
    baseline: list[tuple[int, int]], canary: list[tuple[int, int]]
) -> None:
    spec = RateSpec(min_rate_difference=0.0)
    up = judge(baseline, canary, "counts", "increase", spec=spec)
    down = judge(canary, baseline, "counts", "decrease", spec=spec)
    assert up.outcome == down.outcome
    if up.outcome != "inconclusive":
        assert up.p_value == pytest.approx(down.p_value, rel=1e-6, abs=1e-12)


def test_an_unbounded_rate_ratio_survives_json() -> None:
    verdict = judge([(0, 100)] * 60, [(1, 100)] * 18 + [(0, 100)] * 42, "counts")
    text = verdict.model_dump_json()
    assert '"estimate":"Infinity"' in text and "null" not in text.split('"effect"')[1].split("}")[0]
    assert type(verdict).model_validate_json(text) == verdict
