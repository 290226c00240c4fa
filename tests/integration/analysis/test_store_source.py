"""Results in a real SQLite store, split by revision, judged: the rollout's own signal."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from livesite.analysis import judge
from livesite.analysis.sources import ContinuousSides, CountSides, SourceError, StoreSource
from livesite.results import Failure, FailureKind, Result, Status
from livesite.store import SqliteStore

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def results(revision: str, seconds: int, slow: float, failing_every: int, rng: random.Random) -> list[Result]:
    out = []
    for i in range(seconds):
        failed = failing_every and i % failing_every == 0
        out.append(
            Result(
                check="checkout",
                kind="http",
                zone="a",
                revision=revision,
                started_at=T0 + timedelta(seconds=i, milliseconds=500 if revision == "v2" else 0),
                duration_seconds=0.1 * slow * (1 + rng.gauss(0, 0.05)) + i * 1e-6,
                status=Status.failed if failed else Status.ok,
                failure=Failure(kind=FailureKind.http, message="500") if failed else None,
            )
        )
    return out


async def test_a_slow_and_failing_canary_fails_both_judges_from_the_store(tmp_path: Path) -> None:
    rng = random.Random(1)
    store = await SqliteStore.open(tmp_path / "results.db")
    try:
        await store.add_results(results("v1", 600, 1.0, 0, rng) + results("v2", 600, 1.3, 20, rng))
        source = StoreSource(
            reader=store,
            check="checkout",
            since=T0,
            until=T0 + timedelta(seconds=600),
            baseline="v1",
            canary="v2",
            interval_seconds=60,
        )
        latency = await source.fetch("continuous")
        counts = await source.fetch("counts")
    finally:
        await store.close()
    assert isinstance(latency, ContinuousSides) and isinstance(counts, CountSides)
    assert len(latency.baseline) == 600 and len(latency.canary) == 570  # failures' durations left out
    # Oldest first: the tiny per-second ramp makes time order visible.
    assert latency.baseline[0] < latency.baseline[-1] or latency.baseline[1] < latency.baseline[-2]
    assert counts.baseline == ((0, 60),) * 10
    assert counts.canary == ((3, 60),) * 10
    slow = judge(latency.baseline, latency.canary)
    assert slow.outcome == "fail" and slow.effect is not None and slow.effect.estimate > 0.2
    errors = judge(counts.baseline, counts.canary, "counts")
    assert errors.outcome == "fail" and "30/600" in errors.reason


async def test_a_revision_with_no_results_is_inconclusive_not_a_pass(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "results.db")
    try:
        await store.add_results(results("v1", 120, 1.0, 0, random.Random(2)))
        source = StoreSource(
            reader=store,
            check="checkout",
            since=T0,
            until=T0 + timedelta(seconds=120),
            baseline="v1",
            canary="v9",
        )
        counts = await source.fetch("counts")
        latency = await source.fetch("continuous")
    finally:
        await store.close()
    assert counts.canary == ((0, 0), (0, 0))  # every bucket reported, even empty
    assert judge(counts.baseline, counts.canary, "counts").outcome == "inconclusive"
    assert judge(latency.baseline, latency.canary).outcome == "inconclusive"


async def test_a_window_that_ends_before_it_starts_is_a_source_error(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "results.db")
    try:
        source = StoreSource(
            reader=store,
            check="checkout",
            since=T0,
            until=T0 - timedelta(seconds=1),
            baseline="v1",
            canary="v2",
        )
        with pytest.raises(SourceError, match="must be after since"):
            await source.fetch("counts")
    finally:
        await store.close()
