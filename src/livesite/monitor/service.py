"""The monitor: one client of the probe service. It schedules the plan, folds Results into states,
stores them and keeps what /metrics shows.

It owns no I/O of its own beyond the store; the web app and the CLI read it through
:meth:`Monitor.snapshot` and :attr:`Monitor.last`. At start it takes each check's state from the
store's latest state change, so a restart does not announce every check as new.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from livesite.clock import Clock, SystemClock
from livesite.config.models import Config
from livesite.monitor.damping import Track, observe
from livesite.monitor.plan import MonitorJob, Plan
from livesite.probe import Job, ProbeService, Scheduler
from livesite.results import Result
from livesite.states import CheckState, StateChange

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where results go without blocking the monitor (``livesite.store.BatchWriter``)."""

    def put(self, result: Result) -> None: ...
    def put_event(self, event: StateChange) -> None: ...


class History(Protocol):
    """Where the monitor finds each check's state before it started (``livesite.store.Store``)."""

    async def latest_states(self) -> list[StateChange]: ...


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
        probes: ProbeService | None = None,
        history: History | None = None,
    ) -> None:
        self.config = config
        self.plan = plan
        self.sink = sink
        self.clock = clock or SystemClock()
        self.history = history
        self.probes = probes or ProbeService(config, clock=self.clock, rng=rng)
        self.result_subscribers: list[Callable[[Result], None]] = [on_result] if on_result else []
        self.change_subscribers: list[Callable[[StateChange], None]] = [on_change] if on_change else []
        self.jobs: dict[tuple[str, ...], MonitorJob] = {job.key: job for job in plan.jobs}
        self.tracks: dict[tuple[str, ...], Track] = {key: Track() for key in self.jobs}
        self.last: dict[tuple[str, ...], Result] = {}
        self.totals: Counter[tuple[str, str, str]] = Counter()

    @property
    def scheduler(self) -> Scheduler[Job]:
        return self.probes.scheduler

    def on_change(self, subscriber: Callable[[StateChange], None]) -> None:
        """Hear every change of state (an alert router, a status page, a rollout watching health)."""
        self.change_subscribers.append(subscriber)

    def on_result(self, subscriber: Callable[[Result], None]) -> None:
        self.result_subscribers.append(subscriber)

    async def seed(self) -> None:
        """Take each check's state from the latest stored state change (no-op without history)."""
        if self.history is None:
            return
        for change in await self.history.latest_states():
            track = self.tracks.get((change.check, change.zone))
            if track is not None and track.state is CheckState.unknown:
                track.state = change.current
                track.since = change.at

    async def run(self, until: float | None = None) -> None:
        """Run until cancelled (or until the clock's monotonic ``until``)."""
        await self.seed()
        self.probes.schedule_all(self.plan.jobs, self._heard)
        try:
            await self.probes.run(until)
        finally:
            await self.probes.aclose()

    def stop(self) -> None:
        self.probes.stop()

    def _heard(self, job: Job, result: Result) -> None:
        monitor_job = self.jobs.get(job.key)
        if monitor_job is not None:
            self.record(monitor_job, result)

    def record(self, job: MonitorJob, result: Result) -> None:
        key = job.key
        self.last[key] = result
        self.totals[(job.check.name, job.zone, result.status.value)] += 1
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
            for hear in self.change_subscribers:
                hear(change)
        if self.sink is not None:
            self.sink.put(result)
            if change is not None:
                self.sink.put_event(change)
        for hear_result in self.result_subscribers:
            hear_result(result)

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
