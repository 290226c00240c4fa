"""The web app: JSON API, /metrics and a small status page, wired in one factory (no globals)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from livesite.errors import LivesiteError, UsageError
from livesite.monitor.service import Monitor
from livesite.store.base import ResultReader
from livesite.web.api import metrics, results, status


class NotFound(UsageError):
    """A named check or result does not exist."""


def create_app(monitor: Monitor | None, store: ResultReader | None) -> FastAPI:
    app = FastAPI(title="livesite", version="0.1.0", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.monitor = monitor
    app.state.store = store
    app.include_router(metrics.router)
    app.include_router(status.router)
    app.include_router(results.router)

    @app.exception_handler(LivesiteError)
    async def _error(_: Request, exc: LivesiteError) -> JSONResponse:
        code = 404 if isinstance(exc, NotFound) else 400 if exc.exit_code == 2 else 500
        return JSONResponse({"error": exc.message, "status": code, "hint": exc.hint}, status_code=code)

    return app
