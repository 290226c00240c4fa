"""The front of a zone: a load balancer over the zone's shop instances with run-time weights.

Admin API (the demo's admin token required, `Authorization: Bearer ...`, but for /-/health; everything else
is forwarded to a shop instance):
    GET  /-/health               the front itself
    GET  /-/weights              current weights, e.g. {"shop-a1": 50, "shop-a2": 50}
    PUT  /-/weights              set some or all weights: {"shop-a1": 90, "shop-a2": 10}
    GET  /-/stats                per-backend requests, errors (5xx or unreachable) and latency
    DELETE /-/stats              reset the counters
Backends are picked by smooth weighted round-robin (nginx's), so 90/10 means exactly 9 of every 10 requests.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from livesite.demo.proxy import forward
from livesite.demo.responses import admin_only, error
from livesite.demo.serve import serve
from livesite.demo.settings import FrontSettings, load

_WEIGHTS = TypeAdapter(dict[str, int])


class BackendStats(BaseModel):
    requests: int = 0
    errors: int = 0
    latency_seconds_sum: float = 0.0


class Balancer:
    """Smooth weighted round-robin; pure apart from its own counters."""

    def __init__(self, weights: dict[str, int]) -> None:
        self.weights = dict(weights)
        self.current = dict.fromkeys(weights, 0)

    def set(self, weights: dict[str, int]) -> None:
        self.weights.update(weights)
        self.current = dict.fromkeys(self.weights, 0)

    def pick(self, exclude: Collection[str] = ()) -> str | None:
        live = {name: w for name, w in self.weights.items() if w > 0 and name not in exclude}
        if not live:
            return None
        total = sum(live.values())
        for name, weight in live.items():
            self.current[name] += weight
        chosen = max(live, key=lambda name: self.current[name])
        self.current[chosen] -= total
        return chosen


class Front:
    def __init__(self, settings: FrontSettings) -> None:
        self.settings = settings
        self.balancer = Balancer(settings.weights)
        self.stats = {name: BackendStats() for name in settings.backends}
        self.http: httpx.AsyncClient | None = None

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "front": self.settings.name, "zone": self.settings.zone})

    async def weights(self, request: Request) -> Response:
        if request.method == "PUT":
            try:
                asked = _WEIGHTS.validate_json(await request.body())
            except ValidationError as exc:
                reason = exc.errors()[0]["msg"]
                return error(400, f"weights must map instance names to whole numbers: {reason}")
            unknown = sorted(set(asked) - set(self.settings.backends))
            if unknown:
                return error(
                    400,
                    f"unknown backends: {', '.join(unknown)}",
                    f"backends of this front: {', '.join(self.settings.backends)}",
                )
            if any(w < 0 for w in asked.values()):
                return error(400, "weights must be >= 0")
            if sum({**self.balancer.weights, **asked}.values()) <= 0:
                return error(400, "at least one backend needs a weight above 0")
            self.balancer.set(asked)
        return JSONResponse(self.balancer.weights)

    async def stats_view(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.stats = {name: BackendStats() for name in self.settings.backends}
        return JSONResponse(
            {
                "front": self.settings.name,
                "zone": self.settings.zone,
                "weights": self.balancer.weights,
                "backends": {name: s.model_dump() for name, s in self.stats.items()},
            }
        )

    async def proxy(self, request: Request) -> Response:
        assert self.http is not None
        if request.url.path.startswith("/-/"):  # admin paths stop here, they never reach upstream
            return error(404, f"no such admin path: {request.url.path}")
        body = await request.body()
        tried: set[str] = set()
        while (name := self.balancer.pick(exclude=tried)) is not None:
            tried.add(name)
            stats = self.stats[name]
            stats.requests += 1
            started = time.perf_counter()
            try:
                upstream = await forward(self.http, self.settings.backends[name], request, body)
            except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
                # the request never reached a live instance: safe to try another one
                stats.errors += 1
                if isinstance(exc, httpx.RemoteProtocolError) and request.method not in ("GET", "HEAD"):
                    return error(502, f"{name} closed the connection", "retry")
                continue
            except httpx.HTTPError as exc:
                stats.errors += 1
                return error(502, f"{name} failed: {type(exc).__name__}", "retry")
            finally:
                stats.latency_seconds_sum += time.perf_counter() - started
            if upstream.status >= 500:
                stats.errors += 1
            return upstream.to_response({"x-backend": name})
        return error(502, f"no backend of {self.settings.name} answered", "check `livesite demo status`")


def create_app(settings: FrontSettings) -> Starlette:
    """The front described by `settings`, as an ASGI app."""
    front = Front(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=2)
        async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:
            front.http = client
            yield

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(
        routes=[
            Route("/-/health", front.health),
            Route("/-/weights", admin_only(settings.admin_token, front.weights), methods=["GET", "PUT"]),
            Route("/-/stats", admin_only(settings.admin_token, front.stats_view), methods=["GET", "DELETE"]),
            Route("/{path:path}", front.proxy, methods=methods),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    settings, fd = load(FrontSettings)
    serve(create_app(settings), fd)


if __name__ == "__main__":
    main()
