from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from livesite.results import Result
from livesite.states import CheckState
from livesite.web.page import render_status

router = APIRouter()


class CheckStatusOut(BaseModel):
    check: str
    zone: str
    state: CheckState
    since: datetime | None
    last: Result | None


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/api/status", response_model=list[CheckStatusOut])
async def status(request: Request) -> list[CheckStatusOut]:
    monitor = request.app.state.monitor
    if monitor is None:
        return []
    return [
        CheckStatusOut(check=s.check, zone=s.zone, state=s.state, since=s.since, last=s.last)
        for s in monitor.snapshot()
    ]


@router.get("/", response_class=HTMLResponse)
async def page(request: Request) -> HTMLResponse:
    monitor = request.app.state.monitor
    statuses = monitor.snapshot() if monitor is not None else []
    return HTMLResponse(render_status(statuses, datetime.now(tz=UTC)))
