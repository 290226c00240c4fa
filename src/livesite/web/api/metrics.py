"""``/metrics``: the monitor's exposition, then the store writer's health.

The monitor renders its own series (:mod:`livesite.monitor.metrics`); the store's lines are added
here, where both are known, so the monitor needs to know nothing of the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from livesite.monitor.metrics import render, snapshot
from livesite.monitor.service import Monitor
from livesite.store import StoreHealth

_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def store_lines(health: StoreHealth) -> str:
    """The store writer's health in Prometheus text format."""
    series = (
        (
            "livesite_store_up",
            "gauge",
            "Whether the last write to the results store worked (0 during an outage)",
            int(health.up),
        ),
        (
            "livesite_store_backlog",
            "gauge",
            "Results and state changes waiting to be written to the store",
            health.backlog,
        ),
        (
            "livesite_store_written_total",
            "counter",
            "Results and state changes written to the store",
            health.written_total,
        ),
        (
            "livesite_store_write_failures_total",
            "counter",
            "Writes to the store that failed (each is retried)",
            health.failed_writes_total,
        ),
        (
            "livesite_store_dropped_total",
            "counter",
            "Results and state changes dropped because the store's backlog was full",
            health.dropped_total,
        ),
    )
    lines = []
    for name, kind, text, value in series:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {value}"]
    return "\n".join(lines) + "\n"


def router(monitor: Monitor | None, store_health: Callable[[], StoreHealth] | None) -> APIRouter:
    api = APIRouter()

    @api.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        # Thousands of checks make a multi-megabyte page: render it off the loop so probes stay on time.
        body = await asyncio.to_thread(render, snapshot(monitor)) if monitor is not None else ""
        if store_health is not None:
            if body and not body.endswith("\n"):
                body += "\n"
            body += store_lines(store_health())
        return PlainTextResponse(body, media_type=_CONTENT_TYPE)

    return api
