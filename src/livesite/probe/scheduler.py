"""Fixed-rate scheduling of many jobs on one event loop, with bounded concurrency and measured lag.

Each job fires at ``start + offset + k × interval`` whatever its runs take, so a slow site does not
slow the schedule; a run still in flight at its next tick skips that tick (counted, not queued).
Lag — how late a run started against its tick — is what ``bench/monitor_scale`` reports.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from livesite.clock import Clock
from livesite.monitor.plan import Job

LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


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


class Scheduler:
    def __init__(
        self,
        jobs: Sequence[Job],
        execute: Callable[[Job], Awaitable[None]],
        *,
        clock: Clock,
        concurrency: int,
        tick_seconds: float = 0.005,
        rng: random.Random | None = None,
    ) -> None:
        self.jobs = list(jobs)
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
        self.running: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self.running)

    async def run(self) -> None:
        """Run until cancelled; in-flight runs are cancelled and awaited on the way out."""
        start = self.clock.monotonic()
        heap = [(start + job.offset_seconds, i, job) for i, job in enumerate(self.jobs)]
        heapq.heapify(heap)
        try:
            while heap:
                due, i, job = heap[0]
                now = self.clock.monotonic()
                if due > now + self.tick_seconds:
                    await self.clock.sleep(due - now)
                    continue
                heapq.heapreplace(heap, (due + job.interval_seconds, i, job))
                if job.key in self.running:
                    self.skipped += 1
                    continue
                self.running.add(job.key)
                task = asyncio.create_task(self._run(job, due))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await asyncio.Event().wait()  # no jobs: idle until cancelled
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, job: Job, due: float) -> None:
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
