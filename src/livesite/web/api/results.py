from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Query, Request

from livesite.errors import UsageError
from livesite.results import Result
from livesite.states import StateChange
from livesite.store.base import ResultQuery, ResultReader, Uptime

router = APIRouter(prefix="/api")


def _store(request: Request) -> ResultReader:
    store = request.app.state.store
    if store is None:
        raise UsageError("this server keeps no results store", hint="start livesite monitor with a store")
    return store  # type: ignore[no-any-return]


@router.get("/results", response_model=list[Result])
async def results(
    request: Request,
    check: str | None = None,
    zone: str | None = None,
    limit: int = Query(100, ge=1, le=10_000),
) -> list[Result]:
    return await _store(request).results(ResultQuery(check=check, zone=zone, limit=limit))


@router.get("/checks/{check}/uptime", response_model=Uptime)
async def uptime(
    request: Request, check: str, zone: str | None = None, hours: float = Query(24, gt=0)
) -> Uptime:
    since = datetime.now(tz=UTC) - timedelta(hours=hours)
    return await _store(request).uptime(check, zone, since)


@router.get("/events", response_model=list[StateChange])
async def events(
    request: Request, check: str | None = None, limit: int = Query(100, ge=1, le=10_000)
) -> list[StateChange]:
    return await _store(request).events(check, limit)
