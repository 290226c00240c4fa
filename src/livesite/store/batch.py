"""Write-behind for the monitor: ``put`` never waits, a background task writes in batches.

A killed process loses only what is still buffered, which is at most one flush interval of
results. A store that fails keeps everything buffered and is retried on the next tick; only past
``max_buffered`` does the writer drop the oldest results, and it counts and logs every drop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from livesite.clock import Clock, SystemClock
from livesite.errors import StoreError
from livesite.results import Result
from livesite.states import StateChange
from livesite.store.base import ResultWriter

log = logging.getLogger(__name__)

T = TypeVar("T")

_MAX_BACKOFF_SECONDS = 5.0


class BatchWriter:
    """Buffer Results and StateChanges in memory and write them to ``store`` in batches.

    Call :meth:`start` once inside the running loop, :meth:`put` from anywhere on that loop, and
    ``await close()`` at shutdown: it writes everything still buffered.

    Counters: ``flushed`` results written, ``dropped`` results given up because the buffer
    overflowed while the store was failing (``dropped_events`` likewise), ``pending`` still buffered.
    """

    def __init__(
        self,
        store: ResultWriter,
        flush_interval_seconds: float = 0.2,
        max_batch: int = 500,
        *,
        max_buffered: int = 100_000,
        clock: Clock | None = None,
    ) -> None:
        if flush_interval_seconds <= 0 or max_batch < 1 or max_buffered < max_batch:
            raise ValueError(
                "BatchWriter needs flush_interval_seconds > 0, max_batch >= 1 and max_buffered >= max_batch"
            )
        self._store = store
        self._interval = flush_interval_seconds
        self._max_batch = max_batch
        self._max_buffered = max_buffered
        self._clock = clock or SystemClock()
        self._results: deque[Result] = deque()
        self._events: deque[StateChange] = deque()
        self._lock = asyncio.Lock()  # one flush at a time keeps the buffers' heads stable
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._failing = False
        self.flushed = 0
        self.flushed_events = 0
        self.dropped = 0
        self.dropped_events = 0

    @property
    def pending(self) -> int:
        """Results buffered and not yet written, including a batch being written right now."""
        return len(self._results)

    def put(self, result: Result) -> None:
        """Buffer one Result; never blocks.

        Raises:
            StoreError: the writer is closed.
        """
        self._closed_check()
        if len(self._results) >= self._max_buffered:
            self._results.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.warning(
                    "result buffer full (%d): dropped %d oldest results so far",
                    self._max_buffered,
                    self.dropped,
                )
        self._results.append(result)

    def put_event(self, event: StateChange) -> None:
        """Buffer one StateChange; never blocks. Events are written after the results of the same flush."""
        self._closed_check()
        if len(self._events) >= self._max_buffered:
            self._events.popleft()
            self.dropped_events += 1
            if self.dropped_events == 1 or self.dropped_events % 10_000 == 0:
                log.warning("event buffer full: dropped %d oldest state changes so far", self.dropped_events)
        self._events.append(event)

    def start(self) -> None:
        """Start the background flush task on the running loop."""
        self._closed_check()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="livesite-batch-writer")

    async def flush(self) -> None:
        """Write everything buffered right now, in batches of ``max_batch``.

        Raises:
            StoreError: the store failed; whatever was not written stays buffered for the next try.
        """
        async with self._lock:
            await self._drain(self._results, self._store.add_results, "flushed")
            await self._drain(self._events, self._store.add_events, "flushed_events")

    async def _drain(
        self, buffer: deque[T], write: Callable[[list[T]], Awaitable[None]], counter: str
    ) -> None:
        # Only what is buffered when the flush starts: a steady stream of puts cannot keep it busy.
        remaining = len(buffer)
        while remaining > 0 and buffer:
            batch = [buffer[i] for i in range(min(self._max_batch, remaining, len(buffer)))]
            await write(batch)
            # Puts only append and drops only happen under overflow, so the head is still this
            # batch unless the overflow ate part of it while we waited.
            for item in batch:
                if buffer and buffer[0] is item:
                    buffer.popleft()
            setattr(self, counter, getattr(self, counter) + len(batch))
            remaining -= len(batch)

    async def _run(self) -> None:
        delay = self._interval
        while not self._closed:
            await self._clock.sleep(delay)
            try:
                await self.flush()
            except Exception as exc:  # any failure: keep the buffer, retry, and say so
                if not self._failing:
                    log.warning("writing results failed, %d buffered, will retry: %s", self.pending, exc)
                self._failing = True
                delay = min(delay * 2, _MAX_BACKOFF_SECONDS)
                continue
            if self._failing:
                log.warning("writing results works again; %d dropped while it failed", self.dropped)
            self._failing = False
            delay = self._interval

    async def close(self) -> None:
        """Stop the background task and write everything still buffered.

        Raises:
            StoreError: the final write failed; the message says how many results were not written.
        """
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            task, self._task = self._task, None
            # Wait out a flush in flight: cancelling it mid-write could commit a batch that
            # still sits in the buffer, and events have no id to make a rewrite harmless.
            async with self._lock:
                task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # we are being cancelled ourselves, not just the flush task
        try:
            await self.flush()
        except Exception as exc:
            raise StoreError(
                f"{self.pending} results and {len(self._events)} state changes could not be written: {exc}",
                hint="the store failed while livesite shut down; see the error above",
            ) from exc

    def _closed_check(self) -> None:
        if self._closed:
            raise StoreError("the batch writer is closed", hint="put results before closing the writer")
