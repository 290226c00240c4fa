"""The probe service: the one way any pillar runs checks.

It owns the scheduler, the shared resources (TLS contexts, kept-alive connections) and the run
contexts per zone and identity. The monitor schedules every planned job on it; a rollout's analysis
schedules probes of the canary and the stable revision side by side; a chaos experiment probes its
steady state before, during and after a fault, then removes its jobs. Each client hears the Results
of its own jobs through the ``on_result`` it gave when scheduling, and any subscriber hears all.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import UTC, datetime

from livesite.checks import ANONYMOUS, KINDS, Identity, Kind
from livesite.clock import Clock, SystemClock
from livesite.config.models import CheckBase, Config, RetrySpec
from livesite.errors import StoreError
from livesite.probe.contexts import Contexts
from livesite.probe.job import Job
from livesite.probe.retry import run_with_retries
from livesite.probe.scheduler import Scheduler
from livesite.results import Failure, FailureKind, Result, Status
from livesite.users import NoFreeUser, UserPool

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
        users: UserPool | None = None,
    ) -> None:
        self.config = config
        # The fake-user pool for checks that run as a cohort or a user; opened on the store of the
        # config when the first such check runs, unless one is given.
        self.users = users
        self._owns_users = False
        self._users_lock: asyncio.Lock | None = None
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
        """Run ``spec`` once now in ``zone`` as ``identity`` (with retries), outside any schedule.

        A check that runs as a cohort or a user (``cohort:``, ``cohorts:``, ``user:``) runs as a user
        leased for the run; ``identity.cohort`` chooses among ``cohorts:`` (default: the first).
        """
        if spec.cohort is not None or spec.cohorts is not None or spec.user is not None:
            return await self._as_user(spec, zone, identity, retries or RetrySpec())
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
        """:meth:`close`, after closing what needs the event loop: browsers, and the user pool this
        service opened."""
        await self.contexts.resources.aclose()
        if self._owns_users and self.users is not None:
            await self.users.close()
            self.users = None
            self._owns_users = False

    async def _pool(self) -> UserPool:
        if self.users is None:
            if self._users_lock is None:
                self._users_lock = asyncio.Lock()
            async with self._users_lock:
                if self.users is None:
                    self.users = await UserPool.open(self.config, clock=self.clock)
                    self._owns_users = True
        return self.users

    async def _as_user(self, spec: CheckBase, zone: str, identity: Identity, retries: RetrySpec) -> Result:
        cohort = identity.cohort or spec.cohort or (spec.cohorts[0] if spec.cohorts else None)
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()
        try:
            pool = await self._pool()
            async with pool.running(cohort=cohort, user=spec.user, check=spec.name) as who:
                ctx = self.contexts.get(zone, who)
                return await run_with_retries(spec, ctx, retries, self.kinds)
        except (NoFreeUser, StoreError) as e:
            message = str(e) if isinstance(e, NoFreeUser) else f"cannot lease a user: {e}"
            return Result(
                check=spec.name,
                kind=spec.kind,
                zone=zone,
                user=spec.user or "",
                cohort=cohort or "",
                started_at=started_at,
                duration_seconds=time.perf_counter() - t0,
                status=Status.error,
                failure=Failure(kind=FailureKind.users, message=message),
                tags=spec.tags,
            )

    async def _execute(self, job: Job) -> None:
        spec = job.check
        if spec.cohort is not None or spec.cohorts is not None or spec.user is not None:
            result = await self._as_user(spec, job.zone, job.identity, job.retries)
        else:
            ctx = self.contexts.get(job.zone, job.identity)
            result = await run_with_retries(spec, ctx, job.retries, self.kinds)
        listener = self._listeners.get(job.key)
        for hear in (*((listener,) if listener is not None else ()), *self._subscribers):
            try:
                hear(job, result)
            except Exception:  # one client's bug must not stop the probes of the others
                log.exception("a listener of %s failed", job.key)
