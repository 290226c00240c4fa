"""Fixed-rate scheduling of many jobs on one event loop, with bounded concurrency and measured lag.

Each job fires at ``start + offset + k × interval`` whatever its runs take, so a slow site does not
slow the schedule; a run still in flight at its next tick skips that tick (counted, not queued).
Jobs may be added and removed while the scheduler runs (a rollout's analysis, a chaos experiment's
steady-state probes). Lag — how late a run started against its tick — is what
``bench/monitor_scale`` reports.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import random
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, Protocol, TypeVar

from livesite.clock import Clock

LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Schedulable(Protocol):
    """What the scheduler needs of a job: a key and when it runs."""

    @property
    def key(self) -> Hashable: ...
    @property
    def interval_seconds(self) -> float: ...
    @property
    def offset_seconds(self) -> float: ...
    @property
    def jitter_seconds(self) -> float: ...


J = TypeVar("J", bound=Schedulable)


class LagRecorder:
    """Lag as a Prometheus histogram plus a window of recent values for percentiles."""

    def __init__(self, window: int = 100_000) -> None:
        self.counts = [0] * (len(LAG_BUCKETS) + 1)
        self.total = 0.0
        self.n = 0
        self.recent: deque[float] = deque(maxlen=window)

    def add(self, lag: float) -> None:
        self.counts[bisect.bisect_left(LAG_BUCKETS, lag)] += 1
        self.total += lag
        self.n += 1
        self.recent.append(lag)

    def percentile(self, q: float) -> float | None:
        if not self.recent:
            return None
        ordered = sorted(self.recent)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Scheduler(Generic[J]):
    def __init__(
        self,
        jobs: Iterable[J],
        execute: Callable[[J], Awaitable[None]],
        *,
        clock: Clock,
        concurrency: int,
        tick_seconds: float = 0.005,
        rng: random.Random | None = None,
    ) -> None:
        self.execute = execute
        self.clock = clock
        self.slots = asyncio.Semaphore(concurrency)
        # Runs due within one tick start together: thousands of checks then cost a few wake-ups per
        # second instead of one each, for at most a tick of starting early.
        self.tick_seconds = tick_seconds
        self.rng = rng or random.Random(0)
        self.lag = LagRecorder()
        self.skipped = 0
        self.started = 0
        self.running: set[Hashable] = set()
        self.jobs: dict[Hashable, J] = {}
        self._heap: list[tuple[float, int, J]] = []
        self._current: dict[Hashable, int] = {}  # key → the heap entry's order that is still live
        self._order = 0
        self._start: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sleeper: asyncio.Future[None] | None = None
        self._stopping = False
        for job in jobs:
            self.add(job)

    @property
    def in_flight(self) -> int:
        return len(self.running)

    def add(self, job: J) -> None:
        """Schedule ``job`` (replacing a job of the same key); it first runs at its offset from now."""
        self.jobs[job.key] = job
        now = self.clock.monotonic() if self._start is not None else 0.0
        self._order += 1
        self._current[job.key] = self._order
        heapq.heappush(self._heap, (now + job.offset_seconds, self._order, job))
        self._wake()

    def remove(self, key: Hashable) -> None:
        """Stop scheduling the job of ``key``; a run in flight finishes."""
        self.jobs.pop(key, None)
        self._current.pop(key, None)

    def stop(self) -> None:
        """Make :meth:`run` return after the runs in flight finish."""
        self._stopping = True
        self._wake()

    def _wake(self) -> None:
        if self._sleeper is not None and not self._sleeper.done():
            self._sleeper.cancel()

    async def run(self, until: float | None = None) -> None:
        """Run until :meth:`stop`, until the clock's monotonic time ``until``, or until cancelled.

        Stopped or out of time, it waits for the runs in flight; cancelled, it cancels them.
        """
        self._start = self.clock.monotonic()
        # Jobs added before the start are due at their offset from it.
        self._heap = [(self._start + due, order, job) for due, order, job in self._heap]
        heapq.heapify(self._heap)
        try:
            while not self._stopping:
                now = self.clock.monotonic()
                if until is not None and now >= until:
                    break
                due = self._next_due()
                if due is None or due > now + self.tick_seconds:
                    wait = None if due is None else due - now
                    if until is not None:
                        wait = until - now if wait is None else min(wait, until - now)
                    await self._sleep(wait)
                    continue
                self._fire(now)
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    def _next_due(self) -> float | None:
        while self._heap:
            due, order, job = self._heap[0]
            if self._current.get(job.key) == order:
                return due
            heapq.heappop(self._heap)  # removed or replaced
        return None

    def _fire(self, now: float) -> None:
        due, order, job = self._heap[0]
        heapq.heapreplace(self._heap, (due + job.interval_seconds, order, job))
        if job.key in self.running:
            self.skipped += 1
            return
        self.running.add(job.key)
        task = asyncio.create_task(self._run(job, due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sleep(self, seconds: float | None) -> None:
        loop = asyncio.get_running_loop()
        self._sleeper = (
            loop.create_future() if seconds is None else asyncio.ensure_future(self.clock.sleep(seconds))
        )
        try:
            await self._sleeper
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # cancelled from outside, not woken by add() or stop()
        finally:
            self._sleeper = None

    async def _run(self, job: J, due: float) -> None:
        try:
            if job.jitter_seconds:
                delay = self.rng.uniform(0, job.jitter_seconds)
                due += delay
                await self.clock.sleep(delay)
            async with self.slots:
                self.lag.add(max(0.0, self.clock.monotonic() - due))
                self.started += 1
                await self.execute(job)
        finally:
            self.running.discard(job.key)
