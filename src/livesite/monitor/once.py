"""Run a plan once — every (check, zone) pair, concurrently — for ``livesite check`` and pipelines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from livesite.checks.context import Resources, RunContext
from livesite.clock import Clock, SystemClock
from livesite.config.models import Config
from livesite.monitor.plan import Job, Plan
from livesite.monitor.retry import run_with_retries
from livesite.results import Result


async def run_once(
    config: Config,
    plan: Plan,
    *,
    concurrency: int = 50,
    clock: Clock | None = None,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """One Result per job, in plan order. Never raises for a failing check."""
    clock = clock or SystemClock()
    resources = Resources(config.base_dir)
    contexts = {
        zone: RunContext(zone=config.zone(zone), defaults=config.defaults, resources=resources, clock=clock)
        for zone in config.zone_names()
    }
    slots = asyncio.Semaphore(concurrency)

    async def one(job: Job) -> Result:
        async with slots:
            result = await run_with_retries(job.check, contexts[job.zone], job.retries)
        if on_result is not None:
            on_result(result)
        return result

    try:
        return list(await asyncio.gather(*(one(job) for job in plan.jobs)))
    finally:
        resources.close()
