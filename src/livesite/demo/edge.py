"""The edge cache of a zone: a caching reverse proxy in front of the zone's front.

GET responses with `Cache-Control: public, max-age=N` (status 200, no Set-Cookie, no Authorization on the
request) are kept for min(N, the edge TTL) seconds. Every proxied response says `X-Cache: HIT|MISS` and `Age`.
Admin API (the demo's admin token required, `Authorization: Bearer ...`, but for /-/health):
    GET  /-/health             the edge itself
    POST /-/purge              {"paths": ["/api/products/1", "/products*"]}; no paths purges everything
    GET  /-/cache              entries with their age, hit and miss counts
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from livesite.demo.proxy import Upstream, forward
from livesite.demo.responses import admin_only, error
from livesite.demo.serve import serve
from livesite.demo.settings import EdgeSettings, load

_MAX_AGE = re.compile(r"max-age=(\d+)")


class Entry(BaseModel):
    path: str
    upstream: Upstream
    stored_at: float
    ttl_seconds: float


class PurgeRequest(BaseModel):
    paths: list[str] = []


def cache_ttl(upstream: Upstream, request_has_auth: bool, edge_ttl_seconds: float) -> float:
    """How long a shared cache may keep `upstream` (0 = not at all)."""
    control = (upstream.header("cache-control") or "").lower()
    if upstream.status != 200 or request_has_auth or upstream.header("set-cookie") is not None:
        return 0.0
    if "public" not in control or "no-store" in control or "private" in control:
        return 0.0
    match = _MAX_AGE.search(control)
    return min(float(match.group(1)), edge_ttl_seconds) if match else 0.0


def matches(path: str, patterns: list[str]) -> bool:
    """`/a` matches exactly; `/a*` matches the prefix."""
    return any(path.startswith(p[:-1]) if p.endswith("*") else path == p for p in patterns)


class Edge:
    def __init__(self, settings: EdgeSettings) -> None:
        self.settings = settings
        self.entries: dict[str, Entry] = {}
        self.hits = 0
        self.misses = 0
        self.http: httpx.AsyncClient | None = None

    def _headers(self, result: str, age: float) -> dict[str, str]:
        return {"x-cache": result, "age": str(int(age)), "x-served-by": self.settings.name}

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "edge": self.settings.name, "zone": self.settings.zone})

    async def purge(self, request: Request) -> Response:
        try:
            body = PurgeRequest.model_validate_json(await request.body() or b"{}")
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            return error(
                400, f"invalid purge request: {reason}", 'send {"paths": ["/products", "/api/products*"]}'
            )
        doomed = [key for key, e in self.entries.items() if not body.paths or matches(e.path, body.paths)]
        for key in doomed:
            del self.entries[key]
        return JSONResponse({"purged": len(doomed), "edge": self.settings.name, "zone": self.settings.zone})

    async def cache_view(self, request: Request) -> Response:
        now = time.time()
        return JSONResponse(
            {
                "edge": self.settings.name,
                "hits": self.hits,
                "misses": self.misses,
                "entries": [
                    {"key": k, "age_seconds": now - e.stored_at, "ttl_seconds": e.ttl_seconds}
                    for k, e in self.entries.items()
                ],
            }
        )

    async def proxy(self, request: Request) -> Response:
        assert self.http is not None
        if request.url.path.startswith("/-/"):  # admin paths stop here, they never reach upstream
            return error(404, f"no such admin path: {request.url.path}")
        key = f"{request.url.path}?{request.url.query}"
        cacheable_method = request.method in ("GET", "HEAD")
        now = time.time()
        entry = self.entries.get(key) if cacheable_method else None
        if entry is not None and now - entry.stored_at < entry.ttl_seconds:
            self.hits += 1
            return entry.upstream.to_response(self._headers("HIT", now - entry.stored_at))
        body = await request.body()
        try:
            upstream = await forward(self.http, self.settings.upstream_url, request, body)
        except httpx.HTTPError as exc:
            return error(
                502, f"the zone's front is unreachable: {type(exc).__name__}", "check `livesite demo status`"
            )
        self.misses += 1
        ttl = cache_ttl(upstream, "authorization" in request.headers, self.settings.ttl_seconds)
        if cacheable_method and request.method == "GET" and ttl > 0:
            self.entries[key] = Entry(
                path=request.url.path, upstream=upstream, stored_at=now, ttl_seconds=ttl
            )
        elif entry is not None:
            del self.entries[key]
        return upstream.to_response(self._headers("MISS", 0))


def create_app(settings: EdgeSettings) -> Starlette:
    """The edge cache described by `settings`, as an ASGI app."""
    edge = Edge(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=2)
        async with httpx.AsyncClient(timeout=15.0, limits=limits) as client:
            edge.http = client
            yield

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(
        routes=[
            Route("/-/health", edge.health),
            Route("/-/purge", admin_only(settings.admin_token, edge.purge), methods=["POST"]),
            Route("/-/cache", admin_only(settings.admin_token, edge.cache_view)),
            Route("/{path:path}", edge.proxy, methods=methods),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    settings, fd = load(EdgeSettings)
    serve(create_app(settings), fd)


if __name__ == "__main__":
    main()
