"""The web app: JSON API, /metrics and a small status page, wired in one factory (no globals).

What the routes read is handed to :func:`create_app` in one typed :class:`Sources`, and each router
is built around it: no ``app.state``, no untyped lookups. Errors are mapped to one JSON shape here,
at the edge: bad input is a 4xx, and even an unexpected failure answers JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from livesite.chaos.leases import FaultBook
from livesite.errors import LivesiteError, NotFound, StoreError
from livesite.monitor.service import Monitor
from livesite.store import StoreHealth
from livesite.store.base import ResultReader
from livesite.store.incidents import IncidentStore
from livesite.store.rollouts import RolloutStore
from livesite.web import docs
from livesite.web.api import chaos, metrics, partners, results, rollouts, status


@dataclass(frozen=True, slots=True)
class Sources:
    """What the web app reads. Any of them may be missing: the API then says so, or shows nothing."""

    monitor: Monitor | None = None
    store: ResultReader | None = None
    store_health: Callable[[], StoreHealth] | None = None  # e.g. BatchWriter.health, for /metrics
    incidents: IncidentStore | None = None  # partner incidents, beside the results store
    rollouts: RolloutStore | None = None  # rollout state and journals, beside the results store
    faults: FaultBook | None = None  # chaos faults as leases: what the kill switch reverts
    halt_token: str | None = None  # enables POST /api/chaos/halt


def _shape(error: str, status: int, hint: str | None) -> JSONResponse:
    """Every error of the API looks the same: {"error", "status", "hint"}."""
    return JSONResponse({"error": error, "status": status, "hint": hint}, status_code=status)


def create_app(sources: Sources) -> FastAPI:
    """The app over ``sources``. The interactive docs at ``/api/docs`` are a page of our own, served
    with no script from elsewhere, so they work on a box without internet access."""
    app = FastAPI(
        title="livesite",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.include_router(metrics.router(sources.monitor, sources.store_health))
    app.include_router(status.router(sources.monitor, sources.rollouts))
    app.include_router(results.router(sources.store, sources.monitor))
    app.include_router(partners.router(sources.store, sources.incidents, sources.monitor))
    app.include_router(rollouts.router(sources.rollouts))
    app.include_router(chaos.router(sources.faults, sources.halt_token))
    app.include_router(docs.router(app))

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _shape(exc.message, 404, exc.hint)

    @app.exception_handler(LivesiteError)
    async def _error(_: Request, exc: LivesiteError) -> JSONResponse:
        # The caller's mistake is a 400; a store that fails or cannot be reached is a 503 (it may well
        # answer the same request in a minute); anything else is ours, a 500.
        if exc.exit_code == 2:
            code = 400
        elif isinstance(exc, StoreError):
            code = 503
        else:
            code = 500
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

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback itself after this answer; the client still gets the one shape.
        return _shape(
            "internal error", 500, f"{request.method} {request.url.path} failed; see the monitor's log"
        )

    return app
