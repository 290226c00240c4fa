"""Stored history: ``/api/results``, ``/api/checks/{check}/uptime`` and ``/api/events``.

Every parameter is bounded, so no query string can make the server compute with absurd values
(``hours=1e300`` overflows a date) or read without end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from livesite.errors import NotFound, UsageError
from livesite.monitor.service import Monitor
from livesite.results import Result
from livesite.states import StateChange
from livesite.store.base import ResultQuery, ResultReader, Uptime
from livesite.web.api.errors import BAD_INPUT, NOT_FOUND

MAX_LIMIT = 10_000
MAX_HOURS = 24 * 366 * 10  # ten years: longer than any aggregate retention worth keeping
MAX_NAME_CHARS = 1_000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Newest first, at most this many.")]
# An empty filter is no filter: the docs page's forms send every field, filled in or not.
Name = Annotated[str | None, Query(max_length=MAX_NAME_CHARS)]
Hours = Annotated[
    float,
    Query(gt=0, le=MAX_HOURS, allow_inf_nan=False, description="The window: this many hours back from now."),
]
CheckName = Annotated[str, Path(min_length=1, max_length=MAX_NAME_CHARS)]


def router(store: ResultReader | None, monitor: Monitor | None) -> APIRouter:
    api = APIRouter(prefix="/api", responses=BAD_INPUT)

    def reader() -> ResultReader:
        if store is None:
            raise UsageError("this server keeps no results store", hint="start livesite monitor with a store")
        return store

    async def known(check: str) -> None:
        """A check is known when the monitor runs it or the store holds results of it."""
        if monitor is not None and any(s.check == check for s in monitor.snapshot()):
            return
        if check in await reader().checks():
            return
        raise NotFound(f"no check named {check!r}", hint="GET /api/status lists the checks")

    @api.get("/results", response_model=list[Result])
    async def results(check: Name = None, zone: Name = None, limit: Limit = 100) -> list[Result]:
        return await reader().results(ResultQuery(check=check or None, zone=zone or None, limit=limit))

    @api.get(
        "/checks/{check}/uptime",
        response_model=Uptime,
        responses=NOT_FOUND,
    )
    async def uptime(check: CheckName, zone: Name = None, hours: Hours = 24) -> Uptime:
        await known(check)
        since = datetime.now(tz=UTC) - timedelta(hours=hours)
        return await reader().uptime(check, zone or None, since)

    @api.get("/events", response_model=list[StateChange])
    async def events(check: Name = None, limit: Limit = 100) -> list[StateChange]:
        return await reader().events(check or None, limit)

    return api
