"""BatchWriter: nothing lost, nothing silent, with time moved by hand.

The store here is an in-memory fake because the point is to make writes fail, stall and recover
on command, which a real store cannot do on cue; the crash test uses real stores.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from livesite.errors import StoreError
from livesite.results import Result, Status
from livesite.states import CheckState, StateChange
from livesite.store import BatchWriter
from livesite.testing import FakeClock

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class FakeStore:
    """Records each batch; fails while ``failing`` is set; waits on ``gate`` if one is given."""

    def __init__(self) -> None:
        self.batches: list[list[Result]] = []
        self.events: list[StateChange] = []
        self.attempts = 0
        self.failing = False
        self.gate: asyncio.Event | None = None

    @property
    def written(self) -> list[str]:
        return [r.id for batch in self.batches for r in batch]

    async def add_results(self, results: Sequence[Result]) -> None:
        self.attempts += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            raise StoreError("disk full")
        self.batches.append(list(results))

    async def add_events(self, events: Sequence[StateChange]) -> None:
        if self.failing:
            raise StoreError("disk full")
        self.events.extend(events)


def result(n: int) -> Result:
    return Result(
        id=str(n),
        check="web",
        kind="http",
        zone="a",
        started_at=T0 + timedelta(seconds=n),
        duration_seconds=0.1,
        status=Status.ok,
    )


def change(n: int) -> StateChange:
    return StateChange(
        check="web",
        zone="a",
        previous=CheckState.up,
        current=CheckState.down,
        at=T0 + timedelta(seconds=n),
        result_id=str(n),
        reason="connect: refused",
    )


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.001)


async def tick(clock: FakeClock, seconds: float) -> None:
    """Let the writer reach its sleep, then move time past it."""
    await until(lambda: clock.sleepers > 0, "the writer sleeps")
    clock.advance(seconds)


async def test_put_buffers_and_the_next_tick_writes_in_batches_in_order() -> None:
    store, clock = FakeStore(), FakeClock()
    writer = BatchWriter(store, flush_interval_seconds=0.2, max_batch=4, clock=clock)
    writer.start()
    for n in range(10):
        writer.put(result(n))
    assert store.batches == [] and writer.pending == 10
    await tick(clock, 0.2)
    await until(lambda: writer.flushed == 10, "all results are flushed")
    assert [len(b) for b in store.batches] == [4, 4, 2]
    assert store.written == [str(n) for n in range(10)]
    assert writer.pending == 0
    await writer.close()


async def test_a_failing_store_keeps_results_buffered_retries_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, clock = FakeStore(), FakeClock()
    writer = BatchWriter(store, flush_interval_seconds=0.2, max_batch=4, clock=clock)
    writer.start()
    store.failing = True
    for n in range(6):
        writer.put(result(n))
    with caplog.at_level(logging.WARNING, logger="livesite.store.batch"):
        for attempt in range(1, 4):
            await tick(clock, 10)
            await until(lambda a=attempt: store.attempts == a, f"attempt {attempt}")  # type: ignore[misc]
        assert writer.pending == 6 and writer.flushed == 0 and writer.dropped == 0
        store.failing = False
        for n in range(6, 8):
            writer.put(result(n))
        await tick(clock, 10)
        await until(lambda: writer.flushed == 8, "the backlog is written")
    assert store.written == [str(n) for n in range(8)]
    failures = [r for r in caplog.records if "will retry" in r.message]
    assert len(failures) == 1 and "disk full" in failures[0].message
    assert any("works again" in r.message for r in caplog.records)
    await writer.close()


async def test_retries_back_off_while_the_store_keeps_failing() -> None:
    store, clock = FakeStore(), FakeClock()
    writer = BatchWriter(store, flush_interval_seconds=0.2, clock=clock)
    writer.start()
    store.failing = True
    writer.put(result(0))
    await tick(clock, 0.2)
    await until(lambda: store.attempts == 1, "the first attempt")
    await tick(clock, 0.2)  # the retry now waits 0.4 s, so 0.2 s is not enough
    await until(lambda: clock.sleepers > 0, "the writer sleeps again")
    assert store.attempts == 1
    clock.advance(0.2)
    await until(lambda: store.attempts == 2, "the second attempt")
    store.failing = False
    await writer.close()
    assert store.written == ["0"]


async def test_an_overflowing_buffer_drops_the_oldest_and_counts_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FakeStore()
    store.failing = True
    writer = BatchWriter(store, max_batch=2, max_buffered=5, clock=FakeClock())
    with caplog.at_level(logging.WARNING, logger="livesite.store.batch"):
        for n in range(8):
            writer.put(result(n))
    assert writer.dropped == 3 and writer.pending == 5
    assert any("dropped 1 oldest" in r.message for r in caplog.records)
    store.failing = False
    await writer.flush()
    assert store.written == ["3", "4", "5", "6", "7"]


async def test_flush_raises_when_the_store_fails_and_loses_nothing() -> None:
    store = FakeStore()
    writer = BatchWriter(store, max_batch=2, clock=FakeClock())
    for n in range(3):
        writer.put(result(n))
    writer.put_event(change(0))
    store.failing = True
    with pytest.raises(StoreError):
        await writer.flush()
    assert writer.pending == 3
    store.failing = False
    await writer.flush()
    assert store.written == ["0", "1", "2"] and store.events == [change(0)]
    assert writer.flushed == 3 and writer.flushed_events == 1


async def test_close_writes_everything_still_buffered() -> None:
    store, clock = FakeStore(), FakeClock()
    writer = BatchWriter(store, max_batch=3, clock=clock)
    writer.start()
    for n in range(7):
        writer.put(result(n))
    writer.put_event(change(1))
    await writer.close()
    assert store.written == [str(n) for n in range(7)] and store.events == [change(1)]
    with pytest.raises(StoreError, match="closed"):
        writer.put(result(8))


async def test_close_with_a_failing_store_says_how_much_was_not_written() -> None:
    store = FakeStore()
    writer = BatchWriter(store, clock=FakeClock())
    writer.put(result(0))
    writer.put(result(1))
    store.failing = True
    with pytest.raises(StoreError, match="2 results and 0 state changes could not be written"):
        await writer.close()


async def test_close_waits_for_a_flush_in_flight_instead_of_writing_it_twice() -> None:
    store, clock = FakeStore(), FakeClock()
    store.gate = asyncio.Event()
    writer = BatchWriter(store, clock=clock)
    writer.start()
    writer.put(result(0))
    writer.put_event(change(0))
    await tick(clock, 0.2)
    await until(lambda: store.attempts == 1, "the flush is in flight")
    closing = asyncio.ensure_future(writer.close())
    await asyncio.sleep(0.01)
    assert not closing.done()
    store.gate.set()
    await closing
    assert store.written == ["0"] and store.events == [change(0)]


async def test_results_put_while_a_flush_is_in_flight_are_kept_for_the_next() -> None:
    store = FakeStore()
    store.gate = asyncio.Event()
    writer = BatchWriter(store, max_batch=10, clock=FakeClock())
    writer.put(result(0))
    flushing = asyncio.ensure_future(writer.flush())
    await until(lambda: store.attempts == 1, "the flush is in flight")
    writer.put(result(1))
    store.gate.set()
    await flushing
    assert store.written == ["0"] and writer.pending == 1
    await writer.flush()
    assert store.written == ["0", "1"]


@pytest.mark.parametrize(
    ("interval", "batch", "buffered"), [(0, 500, 100_000), (0.2, 0, 100_000), (0.2, 500, 10)]
)
def test_nonsense_settings_are_refused(interval: float, batch: int, buffered: int) -> None:
    with pytest.raises(ValueError, match="BatchWriter needs"):
        BatchWriter(FakeStore(), interval, batch, max_buffered=buffered)


async def test_health_counts_backlog_writes_failures_and_the_outage_start() -> None:
    store, clock = FakeStore(), FakeClock()
    writer = BatchWriter(store, flush_interval_seconds=0.2, max_batch=4, clock=clock)
    writer.start()
    writer.put(result(0))
    writer.put_event(change(0))
    healthy = writer.health()
    assert (healthy.backlog, healthy.written_total, healthy.failed_writes_total) == (2, 0, 0)
    assert healthy.up and healthy.outage_since is None
    await tick(clock, 0.2)
    await until(lambda: writer.health().written_total == 2, "the result and the event are written")

    store.failing = True
    writer.put(result(1))
    failed_at = 0.0
    for attempt in range(1, 4):
        await tick(clock, 10)
        await until(lambda a=attempt: writer.health().failed_writes_total == a, f"failure {attempt}")  # type: ignore[misc]
        failed_at = failed_at or clock.time()  # the outage began with the first failure
    down = writer.health()
    assert not down.up and down.backlog == 1 and down.written_total == 2
    assert down.outage_since == datetime.fromtimestamp(failed_at, tz=UTC)

    store.failing = False
    await tick(clock, 10)
    await until(lambda: writer.health().up, "writes work again")
    assert writer.health().backlog == 0 and writer.health().written_total == 3
    assert writer.health().failed_writes_total == 3  # a total, kept across the recovery
    await writer.close()


async def test_each_outage_logs_one_line_when_it_starts_and_one_when_it_ends_without_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, clock = FakeStore(), FakeClock()
    writer = BatchWriter(store, flush_interval_seconds=0.2, clock=clock)
    writer.start()
    with caplog.at_level(logging.INFO, logger="livesite.store.batch"):
        for outage in range(2):
            store.failing = True
            writer.put(result(outage))
            for _ in range(5):  # five failed retries: still one line
                attempts = store.attempts
                await tick(clock, 10)
                await until(lambda a=attempts: store.attempts > a, "a retry")  # type: ignore[misc]
            store.failing = False
            await tick(clock, 10)
            await until(lambda: writer.health().up, "writes work again")
    lines = [r for r in caplog.records if r.name == "livesite.store.batch"]
    assert [("will retry" in r.message, "works again" in r.message) for r in lines] == [
        (True, False),
        (False, True),
    ] * 2
    assert not any(r.exc_info for r in lines)
    assert "works again after 50.0 s" in lines[1].message  # five 10 s waits, in fake time
    await writer.close()


async def test_a_failure_that_is_not_the_store_s_logs_its_traceback_once_per_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Buggy(FakeStore):
        async def add_results(self, results: Sequence[Result]) -> None:
            self.attempts += 1
            raise KeyError("a bug, not an outage")

    store, clock = Buggy(), FakeClock()
    writer = BatchWriter(store, flush_interval_seconds=0.2, clock=clock)
    writer.start()
    writer.put(result(0))
    with caplog.at_level(logging.WARNING, logger="livesite.store.batch"):
        for attempt in range(1, 4):
            await tick(clock, 10)
            await until(lambda a=attempt: store.attempts == a, f"attempt {attempt}")  # type: ignore[misc]
    assert len([r for r in caplog.records if r.exc_info]) == 1
    with pytest.raises(StoreError):
        await writer.close()
