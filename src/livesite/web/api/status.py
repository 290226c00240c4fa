from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from livesite.results import Result
from livesite.states import CheckState

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


_COLOURS = {"up": "#2e7d32", "degraded": "#ef6c00", "down": "#c62828", "unknown": "#757575"}


@router.get("/", response_class=HTMLResponse)
async def page(request: Request) -> HTMLResponse:
    from html import escape

    monitor = request.app.state.monitor
    rows = []
    for s in monitor.snapshot() if monitor is not None else []:
        reason = escape(s.last.reason()) if s.last is not None else ""
        rows.append(
            f'<tr class="{s.state.value}"><td>{escape(s.check)}</td><td>{escape(s.zone)}</td>'
            f'<td style="color:{_COLOURS[s.state.value]}">{s.state.value}</td><td>{reason}</td></tr>'
        )
    html = (
        "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=5><title>livesite status</title>"
        "<style>body{font-family:sans-serif}td,th{padding:4px 10px;text-align:left}</style>"
        "<h1>livesite status</h1><table><tr><th>check</th><th>zone</th><th>state</th><th>why</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    return HTMLResponse(html)
