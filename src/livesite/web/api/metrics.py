from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from livesite.monitor.metrics import render, snapshot

router = APIRouter()


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    monitor = request.app.state.monitor
    # Thousands of checks make a multi-megabyte page: render it off the loop so probes stay on time.
    body = await asyncio.to_thread(render, snapshot(monitor)) if monitor is not None else ""
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
