"""Threshold judges: typed at parse time, pure at evaluation, no data never a pass."""

from __future__ import annotations

import pytest

from livesite.analysis import Threshold, judge_threshold


@pytest.mark.parametrize(
    ("text", "statistic", "comparison", "limit"),
    [
        ("error_rate < 1%", "error_rate", "<", 0.01),
        ("error_rate<=0.02", "error_rate", "<=", 0.02),
        ("p99 < 300ms", "p99", "<", 0.3),
        ("p99.9 <= 1.5s", "p99.9", "<=", 1.5),
        ("mean < 250us", "mean", "<", 0.00025),
        ("median >= 2", "median", ">=", 2.0),
    ],
)
def test_thresholds_parse_into_typed_limits(text: str, statistic: str, comparison: str, limit: float) -> None:
    t = Threshold.parse(text)
    assert (t.statistic, t.comparison) == (statistic, comparison)
    assert t.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p99 300ms", "write STATISTIC OP VALUE"),
        ("p100 < 3s", "write STATISTIC OP VALUE"),
        ("p0 < 3s", "between p0 and p100"),
        ("error_rate < 5ms", "fraction or a percentage"),
        ("mean < 5%", "is a duration"),
        ("latency < 5ms", "statistics: error_rate, mean, median, pNN"),
        ("p99 < -1ms", "write STATISTIC OP VALUE"),
    ],
)
def test_a_bad_threshold_says_what_would_be_right(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Threshold.parse(text)


def test_p99_under_its_limit_passes_and_over_it_fails() -> None:
    samples = [0.1] * 98 + [0.2, 0.5]
    assert judge_threshold(Threshold.parse("p99 < 600ms"), samples).outcome == "pass"
    verdict = judge_threshold(Threshold.parse("p99 < 200ms"), samples)
    assert verdict.outcome == "fail"
    assert verdict.statistic == pytest.approx(0.203)  # interpolated between the 99th and 100th values
    assert verdict.bound == pytest.approx(0.2)
    assert verdict.reason == "p99 is 203ms: breaks p99 < 200ms"
    assert verdict.thresholds[0].crossed is True


def test_error_rate_counts_events_over_trials() -> None:
    verdict = judge_threshold(Threshold.parse("error_rate < 1%"), [(1, 100), (2, 100)])
    assert verdict.outcome == "fail"
    assert verdict.statistic == pytest.approx(0.015)
    assert "1.500%" in verdict.reason
    assert judge_threshold(Threshold.parse("error_rate < 2%"), [(1, 100), (2, 100)]).outcome == "pass"


@pytest.mark.parametrize("samples", [[], [(0, 0), (0, 0)]])
def test_no_data_is_inconclusive(samples: list[tuple[int, int]]) -> None:
    verdict = judge_threshold(Threshold.parse("error_rate < 1%"), samples)
    assert verdict.outcome == "inconclusive"
    assert "no data" in verdict.reason


def test_too_few_samples_are_inconclusive() -> None:
    verdict = judge_threshold(Threshold.parse("p99 < 1s"), [0.1] * 5, min_samples=20)
    assert verdict.outcome == "inconclusive"


def test_samples_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(ValueError, match="needs \\(events, trials\\) counts"):
        judge_threshold(Threshold.parse("error_rate < 1%"), [0.1, 0.2])
    with pytest.raises(ValueError, match="needs continuous samples"):
        judge_threshold(Threshold.parse("p99 < 1s"), [(1, 2)])
