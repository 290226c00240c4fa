"""Router snapshots become per-interval samples: counter differences and histogram quantiles."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from livesite.analysis import RankSpec, judge_sides
from livesite.analysis.sources import BackendSample, LatencyBucket, RouterSource, router_sides
from livesite.analysis.sources.router import histogram_quantile

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def snap(backend: str, i: int, requests: int, errors: int, buckets: list[tuple[float, int]]) -> BackendSample:
    return BackendSample(
        backend=backend,
        at=T0 + timedelta(seconds=10 * i),
        requests=requests,
        errors=errors,
        latency=tuple(LatencyBucket(le_seconds=le, count=c) for le, c in buckets),
    )


def test_counts_are_the_differences_between_snapshots() -> None:
    snaps = [
        snap("stable", 0, 100, 1, []),
        snap("canary", 0, 10, 0, []),
        snap("stable", 1, 300, 2, []),
        snap("canary", 1, 30, 5, []),
        snap("stable", 2, 500, 2, []),
        snap("canary", 2, 50, 9, []),
        snap("other", 2, 5, 5, []),
    ]
    sides = router_sides(list(reversed(snaps)), "stable", "canary", "counts")
    assert sides.baseline == ((1, 200), (0, 200))
    assert sides.canary == ((5, 20), (4, 20))


def test_a_router_restart_counts_from_zero_not_negative() -> None:
    snaps = [snap("stable", 0, 1000, 10, []), snap("stable", 1, 50, 3, []), snap("canary", 0, 0, 0, [])]
    sides = router_sides(snaps, "stable", "canary", "counts")
    assert sides.baseline == ((3, 50),)


def test_histogram_quantiles_interpolate_within_a_bucket_like_prometheus() -> None:
    buckets = [(0.1, 50), (0.2, 90), (0.5, 100), (math.inf, 100)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.15)
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.35)
    assert histogram_quantile(0.5, [(0.1, 0), (math.inf, 0)]) is None
    assert histogram_quantile(0.99, [(0.1, 0), (math.inf, 10)]) == 0.1  # beyond the last finite bound


async def test_latency_per_interval_comes_from_the_histogram_differences() -> None:
    source = RouterSource(baseline="stable", canary="canary", quantile=0.5)
    source.add([snap("stable", 0, 0, 0, [(0.1, 0), (0.2, 0), (math.inf, 0)])])
    source.add([snap("stable", 1, 100, 0, [(0.1, 100), (0.2, 100), (math.inf, 100)])])
    source.add([snap("stable", 2, 200, 0, [(0.1, 100), (0.2, 200), (math.inf, 200)])])
    sides = await source.fetch("continuous")
    assert sides.baseline == pytest.approx((0.05, 0.15))
    assert sides.canary == ()
    assert judge_sides(sides).outcome == "inconclusive"  # no canary data: never a pass


def test_judge_sides_picks_the_test_by_the_samples_type() -> None:
    snaps = [
        snap(b, i, 1000 * i, (30 if b == "canary" else 0) * i, [])
        for i in range(3)
        for b in ("stable", "canary")
    ]
    counts = router_sides(snaps, "stable", "canary", "counts")
    verdict = judge_sides(counts)
    assert verdict.kind == "counts" and verdict.outcome == "fail"
    with pytest.raises(ValueError, match="counts take a RateSpec"):
        judge_sides(counts, spec=RankSpec())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"requests": 1, "errors": 2}, "2 errors out of 1 requests"),
        ({"latency": [{"le_seconds": 0.2, "count": 1}, {"le_seconds": 0.1, "count": 2}]}, "increasing order"),
        ({"latency": [{"le_seconds": 0.1, "count": 5}, {"le_seconds": 0.2, "count": 2}]}, "cumulative"),
    ],
)
def test_impossible_snapshots_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BackendSample.model_validate({"backend": "b", "at": T0, "requests": 10, "errors": 0, **fields})
