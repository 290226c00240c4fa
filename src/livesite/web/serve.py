"""``livesite monitor``: the monitor, its store writer and its web server, until told to stop.

It lives in ``web`` because it composes the monitor pillar with the web surface and the store; the
monitor itself knows nothing of HTTP.

Stopping is orderly whatever the reason (SIGTERM, SIGINT, an error): runs in flight are cancelled,
the batch writer flushes what it holds, the store closes. A SIGKILL loses at most one flush interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from livesite.chaos.leases import FaultBook
from livesite.chaos.recovery import left_behind
from livesite.clock import Clock, SystemClock
from livesite.config.models import Config, StoreSettings
from livesite.errors import LivesiteError, StoreError
from livesite.monitor.partners import PartnerWatch
from livesite.monitor.plan import Plan
from livesite.monitor.service import Monitor
from livesite.results import Result
from livesite.states import StateChange
from livesite.store import BatchWriter, Store
from livesite.store.incidents import incidents_of
from livesite.store.leases import open_leases
from livesite.store.rollouts import rollouts_of
from livesite.web.app import Sources, create_app
from livesite.web.server import WebServer

log = logging.getLogger(__name__)


async def serve(
    config: Config,
    plan: Plan,
    store: Store,
    stop: asyncio.Event,
    *,
    listen: str | None = None,
    clock: Clock | None = None,
    on_result: Callable[[Result], None] | None = None,
    on_change: Callable[[StateChange], None] | None = None,
    on_ready: Callable[[Monitor, str], None] | None = None,
) -> Monitor:
    """Run until ``stop`` is set; return the monitor (for a final summary).

    ``store`` is closed on the way out, whatever happens, including a listen address that cannot be
    bound (a :class:`~livesite.errors.UsageError`).
    """
    clock = clock or SystemClock()
    writer = BatchWriter(store)
    try:
        monitor = Monitor(
            config, plan, writer, clock=clock, on_result=on_result, on_change=on_change, history=store
        )
        incidents = incidents_of(store)
        watch = PartnerWatch(config, incidents)
        monitor.on_result(watch.observe)
        sources = Sources(
            monitor=monitor,
            store=store,
            store_health=writer.health,
            incidents=incidents,
            rollouts=rollouts_of(store),
            halt_token=config.monitor.halt_token,
        )
    except BaseException:
        await store.close()
        raise
    writer.start()
    try:
        await watch.seed()
        faults = await _recover_faults(store)
        app = create_app(dataclasses.replace(sources, faults=faults))
        web = WebServer(app, listen or config.monitor.listen)
    except BaseException:
        await writer.close()
        await store.close()
        raise
    tasks = [
        asyncio.create_task(monitor.run(), name="monitor"),
        asyncio.create_task(web.serve(), name="web"),
        asyncio.create_task(compact_forever(store, config.store, clock), name="retention"),
        asyncio.create_task(watch.run(), name="partners"),
    ]
    try:
        if on_ready is not None:
            on_ready(monitor, web.url)
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        for task in done:
            if task is not stopped and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        web.stop()
        tasks[0].cancel()
        tasks[2].cancel()
        tasks[3].cancel()  # after the monitor: it saves the incidents the last Results changed
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await writer.close()
        finally:
            await store.close()
    return monitor


async def _recover_faults(store: Store) -> FaultBook | None:
    """Revert the chaos faults a dead runner left behind, as the monitor starts (and keep the book for
    the kill switch). A store without leases (a test's in-memory one) has no faults."""
    try:
        book = FaultBook(await open_leases(store))
    except StoreError:
        return None
    reverted, errors = await left_behind(book)
    for held in reverted:
        log.warning("reverted a chaos fault left behind: %s", held.target.description)
    for error in errors:
        log.error("could not revert a chaos fault left behind: %s", error)
    return book


async def compact_forever(
    store: Store, settings: StoreSettings, clock: Clock, every_seconds: float = 300.0
) -> None:
    """Apply retention now and then, so the store does not grow without bound."""
    while True:
        try:
            await store.compact(
                datetime.fromtimestamp(clock.time(), tz=UTC),
                settings.raw_retention,
                settings.aggregate_retention,
            )
        except LivesiteError as e:
            log.warning("retention pass failed, will retry: %s", e)
        await clock.sleep(every_seconds)
