"""Write-behind for the monitor: ``put`` never waits, a background task writes in batches.

A killed process loses only what is still buffered, which is at most one flush interval of
results. A store that fails keeps everything buffered and is retried on the next tick; only past
``max_buffered`` does the writer drop the oldest results, and it counts and logs every drop.

An outage is told twice in the log, once when writes start failing and once when they work again,
never once per retry; :meth:`BatchWriter.health` gives the same story as numbers for ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """How writing to the store goes, as numbers: a snapshot taken by :meth:`BatchWriter.health`."""

    backlog: int  # results and state changes buffered, not yet written
    written_total: int  # results and state changes written since start
    failed_writes_total: int  # write attempts (flushes) that failed since start
    dropped_total: int  # results and state changes given up because the buffer overflowed
    outage_since: datetime | None  # when the current run of failed writes began; None when writes work

    @property
    def up(self) -> bool:
        """True unless the last write attempt failed."""
        return self.outage_since is None


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
        self._failed_writes = 0
        # Wall time of the first failure of the current outage (for people), and monotonic (for its length).
        self._outage_since: float | None = None
        self._outage_began = 0.0
        self._dropped_before_outage = 0

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

    def health(self) -> StoreHealth:
        """Backlog, totals and whether the store is in an outage, right now."""
        since = self._outage_since
        return StoreHealth(
            backlog=len(self._results.items) + len(self._events.items),
            written_total=self._results.written + self._events.written,
            failed_writes_total=self._failed_writes,
            dropped_total=self._results.dropped + self._events.dropped,
            outage_since=None if since is None else datetime.fromtimestamp(since, tz=UTC),
        )

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
            try:
                await self._results.drain(self._store.add_results, self._max_batch)
                await self._events.drain(self._store.add_events, self._max_batch)
            except Exception as exc:
                self._failed(exc)
                raise
            self._worked()

    def _failed(self, exc: Exception) -> None:
        self._failed_writes += 1
        if self._outage_since is not None:
            return  # the outage was reported when it began: no line, let alone a traceback, per retry
        self._outage_since = self._clock.time()
        self._outage_began = self._clock.monotonic()
        self._dropped_before_outage = self.dropped + self.dropped_events
        log.warning(
            "writing results failed, %d buffered, will retry: %s",
            self.pending,
            " ".join(str(exc).split()) or type(exc).__name__,  # one line, whatever the driver says
            # A store or network failure is expected in an outage; anything else is a bug and
            # deserves its traceback, still only once per outage.
            exc_info=not isinstance(exc, StoreError | OSError),
        )

    def _worked(self) -> None:
        if self._outage_since is None:
            return
        seconds = self._clock.monotonic() - self._outage_began
        self._outage_since = None
        log.warning(
            "writing results works again after %.1f s; %d dropped while it failed",
            seconds,
            self.dropped + self.dropped_events - self._dropped_before_outage,
        )

    async def _run(self) -> None:
        delay = self._interval
        while not self._closed:
            await self._clock.sleep(delay)
            try:
                await self.flush()
            except Exception:  # any failure: keep the buffer and retry; flush() has said so once
                delay = min(delay * 2, _MAX_BACKOFF_SECONDS)
                continue
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
