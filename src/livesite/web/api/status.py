"""The monitor's live view: ``/healthz``, ``/api/status`` and the status page at ``/``."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from livesite.monitor.service import Monitor
from livesite.results import Result
from livesite.states import CheckState
from livesite.store.rollouts import Decision, RolloutRecord, RolloutStore
from livesite.web.page import render_status


class CheckStatusOut(BaseModel):
    check: str
    zone: str
    state: CheckState
    since: datetime | None
    last: Result | None


def router(monitor: Monitor | None, rollouts: RolloutStore | None = None) -> APIRouter:
    api = APIRouter()

    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/api/status", response_model=list[CheckStatusOut])
    async def status() -> list[CheckStatusOut]:
        if monitor is None:
            return []
        return [
            CheckStatusOut(check=s.check, zone=s.zone, state=s.state, since=s.since, last=s.last)
            for s in monitor.snapshot()
        ]

    @api.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        statuses = monitor.snapshot() if monitor is not None else []
        shown: list[tuple[RolloutRecord, list[Decision]]] = []
        if rollouts is not None:
            for record in await rollouts.records():
                shown.append((record, await rollouts.decisions(record.name, 5)))
        return HTMLResponse(render_status(statuses, datetime.now(tz=UTC), rollouts=shown))

    return api
