"""Write-behind for the monitor: ``put`` never waits, a background task writes in batches.

A killed process loses only what is still buffered, which is at most one flush interval of
results. A store that fails keeps everything buffered and is retried on the next tick; only past
``max_buffered`` does the writer drop the oldest results, and it counts and logs every drop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from livesite.clock import Clock, SystemClock
from livesite.errors import StoreError
from livesite.results import Result
from livesite.states import StateChange
from livesite.store.base import ResultWriter

log = logging.getLogger(__name__)

T = TypeVar("T")

_MAX_BACKOFF_SECONDS = 5.0


class _Lane(Generic[T]):
    """One bounded FIFO buffer with its counters: results and state changes each get one."""

    def __init__(self, what: str, max_buffered: int) -> None:
        self.what = what
        self.items: deque[T] = deque()
        self.max_buffered = max_buffered
        self.written = 0
        self.dropped = 0

    def put(self, item: T) -> None:
        if len(self.items) >= self.max_buffered:
            self.items.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.warning(
                    "%s buffer full (%d): dropped %d oldest so far",
                    self.what,
                    self.max_buffered,
                    self.dropped,
                )
        self.items.append(item)

    async def drain(self, write: Callable[[Sequence[T]], Awaitable[None]], max_batch: int) -> None:
        # Only what is buffered when the flush starts: a steady stream of puts cannot keep it busy.
        remaining = len(self.items)
        while remaining > 0 and self.items:
            batch = [self.items[i] for i in range(min(max_batch, remaining, len(self.items)))]
            await write(batch)
            # Puts only append, so the head is still this batch, unless an overflow dropped
            # part of it while we waited.
            for item in batch:
                if self.items and self.items[0] is item:
                    self.items.popleft()
            self.written += len(batch)
            remaining -= len(batch)


class BatchWriter:
    """Buffer Results and StateChanges in memory and write them to ``store`` in batches.

    Call :meth:`start` once inside the running loop, :meth:`put` from anywhere on that loop, and
    ``await close()`` at shutdown: it writes everything still buffered.

    Counters: ``flushed`` results written, ``dropped`` results given up because the buffer
    overflowed while the store was failing (``flushed_events``, ``dropped_events`` likewise),
    ``pending`` results still buffered.
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
        self._clock = clock or SystemClock()
        self._results: _Lane[Result] = _Lane("result", max_buffered)
        self._events: _Lane[StateChange] = _Lane("state change", max_buffered)
        self._lock = asyncio.Lock()  # one flush at a time keeps the buffers' heads stable
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._failing = False

    @property
    def flushed(self) -> int:
        return self._results.written

    @property
    def dropped(self) -> int:
        return self._results.dropped

    @property
    def flushed_events(self) -> int:
        return self._events.written

    @property
    def dropped_events(self) -> int:
        return self._events.dropped

    @property
    def pending(self) -> int:
        """Results buffered and not yet written, including a batch being written right now."""
        return len(self._results.items)

    def put(self, result: Result) -> None:
        """Buffer one Result; never blocks.

        Raises:
            StoreError: the writer is closed.
        """
        self._closed_check()
        self._results.put(result)

    def put_event(self, event: StateChange) -> None:
        """Buffer one StateChange; never blocks. Events are written after the results of the same flush."""
        self._closed_check()
        self._events.put(event)

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
            await self._results.drain(self._store.add_results, self._max_batch)
            await self._events.drain(self._store.add_events, self._max_batch)

    async def _run(self) -> None:
        delay = self._interval
        while not self._closed:
            await self._clock.sleep(delay)
            try:
                await self.flush()
            except Exception as exc:  # any failure: keep the buffer, retry, and say so
                if not self._failing:
                    log.warning(
                        "writing results failed, %d buffered, will retry: %s",
                        self.pending,
                        exc,
                        exc_info=not isinstance(exc, StoreError),  # a bug deserves its traceback
                    )
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
            # Wait out a flush in flight rather than cancel it mid-write: a rewrite would be
            # harmless (stores ignore a result or state change they already hold), but wasted.
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
                f"{self.pending} results and {len(self._events.items)} state changes could not be written: {exc}",
                hint="the store failed while livesite shut down; see the error above",
            ) from exc

    def _closed_check(self) -> None:
        if self._closed:
            raise StoreError("the batch writer is closed", hint="put results before closing the writer")
