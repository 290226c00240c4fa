"""The probe service: the one way any pillar runs checks.

It owns the scheduler, the shared resources (TLS contexts, kept-alive connections) and the run
contexts per zone and identity. The monitor schedules every planned job on it; a rollout's analysis
schedules probes of the canary and the stable revision side by side; a chaos experiment probes its
steady state before, during and after a fault, then removes its jobs. Each client hears the Results
of its own jobs through the ``on_result`` it gave when scheduling, and any subscriber hears all.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Hashable, Iterable, Mapping

from livesite.checks import ANONYMOUS, KINDS, Identity, Kind
from livesite.clock import Clock, SystemClock
from livesite.config.models import CheckBase, Config, RetrySpec
from livesite.probe.contexts import Contexts
from livesite.probe.job import Job
from livesite.probe.retry import run_with_retries
from livesite.probe.scheduler import Scheduler
from livesite.results import Result

log = logging.getLogger(__name__)

OnResult = Callable[[Job, Result], None]


class ProbeService:
    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        concurrency: int | None = None,
        rng: random.Random | None = None,
        kinds: Mapping[str, Kind] = KINDS,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.kinds = kinds
        self.contexts = Contexts(config, self.clock)
        self.scheduler: Scheduler[Job] = Scheduler(
            (),
            self._execute,
            clock=self.clock,
            concurrency=concurrency or config.monitor.concurrency,
            rng=rng,
        )
        self._listeners: dict[Hashable, OnResult] = {}
        self._subscribers: list[OnResult] = []

    def schedule(self, job: Job, on_result: OnResult | None = None) -> None:
        """Run ``job`` on its schedule from now on (replacing a job of the same key)."""
        if on_result is not None:
            self._listeners[job.key] = on_result
        self.scheduler.add(job)

    def schedule_all(self, jobs: Iterable[Job], on_result: OnResult | None = None) -> None:
        for job in jobs:
            self.schedule(job, on_result)

    def unschedule(self, key: Hashable) -> None:
        """Stop running the job of ``key``; a run in flight still reports."""
        self.scheduler.remove(key)
        self._listeners.pop(key, None)

    def subscribe(self, on_result: OnResult) -> Callable[[], None]:
        """Hear every Result of every scheduled job; returns the function that unsubscribes."""
        self._subscribers.append(on_result)
        return lambda: self._subscribers.remove(on_result)

    async def probe(
        self,
        spec: CheckBase,
        zone: str,
        identity: Identity = ANONYMOUS,
        retries: RetrySpec | None = None,
    ) -> Result:
        """Run ``spec`` once now in ``zone`` as ``identity`` (with retries), outside any schedule."""
        ctx = self.contexts.get(zone, identity)
        return await run_with_retries(spec, ctx, retries or RetrySpec(), self.kinds)

    async def run(self, until: float | None = None) -> None:
        """Run the scheduled jobs until :meth:`stop`, the clock's monotonic ``until``, or cancellation."""
        await self.scheduler.run(until)

    def stop(self) -> None:
        self.scheduler.stop()

    def close(self) -> None:
        self.contexts.close()

    async def aclose(self) -> None:
        """:meth:`close`, after closing what needs the event loop (browsers)."""
        await self.contexts.resources.aclose()

    async def _execute(self, job: Job) -> None:
        ctx = self.contexts.get(job.zone, job.identity)
        result = await run_with_retries(job.check, ctx, job.retries, self.kinds)
        listener = self._listeners.get(job.key)
        for hear in (*((listener,) if listener is not None else ()), *self._subscribers):
            try:
                hear(job, result)
            except Exception:  # one client's bug must not stop the probes of the others
                log.exception("a listener of %s failed", job.key)
