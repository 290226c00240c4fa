from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from livesite.monitor.metrics import render

router = APIRouter()


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    monitor = request.app.state.monitor
    body = render(monitor) if monitor is not None else ""
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
