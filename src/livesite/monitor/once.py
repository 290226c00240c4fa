"""Run a plan once — every (check, zone) pair, concurrently — for ``livesite check`` and pipelines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from livesite.clock import Clock
from livesite.config.models import Config
from livesite.monitor.plan import MonitorJob, Plan
from livesite.probe import ProbeService
from livesite.results import Result
from livesite.store import open_store


async def run_once(
    config: Config,
    plan: Plan,
    *,
    concurrency: int = 50,
    clock: Clock | None = None,
    on_result: Callable[[Result], None] | None = None,
    store_url: str | None = None,
) -> list[Result]:
    """One Result per job, in plan order, also written to ``store_url`` when given.

    Raises:
        StoreError: the store cannot be opened or written (checked before any check runs).
    """
    store = await open_store(store_url, base_dir=config.base_dir) if store_url else None
    probes = ProbeService(config, clock=clock)
    slots = asyncio.Semaphore(concurrency)

    async def one(job: MonitorJob) -> Result:
        async with slots:
            result = await probes.probe(job.check, job.zone, job.identity, job.retries)
        if on_result is not None:
            on_result(result)
        return result

    try:
        results = list(await asyncio.gather(*(one(job) for job in plan.jobs)))
        if store is not None:
            await store.add_results(results)
        return results
    finally:
        await probes.aclose()
        if store is not None:
            await store.close()
