"""The web app: JSON API, /metrics and a small status page, wired in one factory (no globals)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from livesite.errors import LivesiteError
from livesite.monitor.service import Monitor
from livesite.store.base import ResultReader
from livesite.web.api import metrics, results, status


def _shape(error: str, status: int, hint: str | None) -> JSONResponse:
    """Every error of the API looks the same: {"error", "status", "hint"}."""
    return JSONResponse({"error": error, "status": status, "hint": hint}, status_code=status)


def create_app(monitor: Monitor | None, store: ResultReader | None) -> FastAPI:
    app = FastAPI(title="livesite", version="0.1.0", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.monitor = monitor
    app.state.store = store
    app.include_router(metrics.router)
    app.include_router(status.router)
    app.include_router(results.router)

    @app.exception_handler(LivesiteError)
    async def _error(_: Request, exc: LivesiteError) -> JSONResponse:
        code = 400 if exc.exit_code == 2 else 500
        return _shape(exc.message, code, exc.hint)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        hint = "see /api/docs for the routes" if exc.status_code == 404 else None
        return _shape(str(exc.detail), exc.status_code, hint)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _shape(f"{where}: {first.get('msg', 'invalid')}", 422, "see /api/docs for the parameters")

    return app
