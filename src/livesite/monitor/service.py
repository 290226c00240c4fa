"""The monitor: runs the plan forever, folds Results into states, stores them, keeps what /metrics shows.

It owns no I/O of its own beyond the checks and the store; the web app and the CLI read it through
:meth:`Monitor.snapshot` and :meth:`Monitor.latest`.
"""

from __future__ import annotations

import gc
import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from livesite.checks.context import Resources, RunContext
from livesite.clock import Clock, SystemClock
from livesite.config.models import Config
from livesite.monitor.damping import Track, observe
from livesite.monitor.plan import Job, Plan
from livesite.monitor.retry import run_with_retries
from livesite.monitor.scheduler import Scheduler
from livesite.results import Result
from livesite.states import CheckState, StateChange

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where results go without blocking the monitor (``livesite.store.BatchWriter``)."""

    def put(self, result: Result) -> None: ...
    def put_event(self, event: StateChange) -> None: ...


@dataclass(frozen=True, slots=True)
class CheckStatus:
    check: str
    zone: str
    state: CheckState
    since: datetime | None
    last: Result | None


class Monitor:
    def __init__(
        self,
        config: Config,
        plan: Plan,
        sink: Sink | None = None,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_result: Callable[[Result], None] | None = None,
        on_change: Callable[[StateChange], None] | None = None,
    ) -> None:
        self.config = config
        self.plan = plan
        self.sink = sink
        self.clock = clock or SystemClock()
        self.on_result = on_result
        self.on_change = on_change
        self.resources = Resources(config.base_dir)
        self.contexts = {
            zone: RunContext(
                zone=config.zone(zone), defaults=config.defaults, resources=self.resources, clock=self.clock
            )
            for zone in config.zone_names()
        }
        self.tracks: dict[tuple[str, str], Track] = {job.key: Track() for job in plan.jobs}
        self.last: dict[tuple[str, str], Result] = {}
        self.totals: Counter[tuple[str, str, str]] = Counter()
        self.scheduler = Scheduler(
            plan.jobs,
            self._execute,
            clock=self.clock,
            concurrency=config.monitor.concurrency,
            rng=rng,
        )

    async def run(self) -> None:
        """Run until cancelled."""
        # The config, plan and contexts live as long as the process: move them out of the collector's
        # sight, or every full collection walks them all and stalls the loop (bench/RESULTS.md: 1.4 s
        # pauses at 10,000 checks before, under 100 ms after).
        gc.collect()
        gc.freeze()
        try:
            await self.scheduler.run()
        finally:
            self.resources.close()

    async def _execute(self, job: Job) -> None:
        result = await run_with_retries(job.check, self.contexts[job.zone], job.retries)
        self.record(job, result)

    def record(self, job: Job, result: Result) -> None:
        key = job.key
        self.last[key] = result
        self.totals[(key[0], key[1], result.status.value)] += 1
        change = observe(self.tracks[key], result, job.failure_threshold, job.success_threshold)
        if change is not None:
            log.info(
                "%s in %s: %s → %s (%s)",
                change.check,
                change.zone,
                change.previous,
                change.current,
                change.reason,
            )
            if self.on_change is not None:
                self.on_change(change)
        if self.sink is not None:
            self.sink.put(result)
            if change is not None:
                self.sink.put_event(change)
        if self.on_result is not None:
            self.on_result(result)

    def snapshot(self) -> list[CheckStatus]:
        return [
            CheckStatus(
                check=key[0],
                zone=key[1],
                state=track.state,
                since=track.since,
                last=self.last.get(key),
            )
            for key, track in sorted(self.tracks.items())
        ]
