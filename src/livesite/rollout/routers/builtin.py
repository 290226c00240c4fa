"""The built-in router (and the demo's fronts) through its admin API, over HTTP with a bearer token.

    GET/PUT    /-/weights    {"stable": 90, "canary": 10}; PUT some or all, answers all
    GET/DELETE /-/stats      {"backends": {name: {"requests", "errors", "latency_seconds_sum",
                              "status": {"2xx": n}, "latency": {"buckets": [[le, n]], "count": n}}}}
    GET/PUT    /-/routes     {"routes": [{"header", "value", "backend"}], "sticky": {...} | null}
    GET        /-/backends   {"generation": N, "backends": [{"name", "url", "weight", "healthy", "draining"}]}

The demo's fronts answer only /-/weights and /-/stats: routes then raise RouterError("unsupported")
and verify() falls back to /-/weights, fingerprinting what it read for a generation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from livesite.rollout.routers.base import (
    Asked,
    BackendStats,
    Latency,
    Route,
    RouterError,
    RouterState,
    TlsContexts,
    check_routes,
    check_weights,
    fingerprint,
)

_WEIGHTS = TypeAdapter(dict[str, int])
M = TypeVar("M", bound=BaseModel)


class BuiltinSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str  # the router's base URL, http://HOST:PORT
    token: str = Field(repr=False)  # the admin token (Authorization: Bearer ...)
    timeout_seconds: float = Field(default=5.0, gt=0)


class _Histogram(BaseModel):
    buckets: list[tuple[float, int]] = []
    count: int = 0


class _Backend(BaseModel):
    requests: int = 0
    errors: int = 0
    latency_seconds_sum: float = 0.0
    status: dict[str, int] = {}
    latency: _Histogram | None = None


class _Stats(BaseModel):
    backends: dict[str, _Backend]


class _RoutesBody(BaseModel):
    routes: list[Route]
    sticky: dict[str, object] | None = None


class _BackendRow(BaseModel):
    name: str
    weight: int
    draining: bool = False


class _Backends(BaseModel):
    generation: int
    backends: list[_BackendRow]


class BuiltinRouter:
    """A :class:`~livesite.rollout.routers.base.Router` over the built-in router's admin API."""

    def __init__(self, settings: BuiltinSettings) -> None:
        self.settings = settings
        self.name = f"builtin ({settings.url})"
        self.asked = Asked()
        self._lock = asyncio.Lock()
        self._tls = TlsContexts()

    async def _call(self, method: str, path: str, body: object = None) -> httpx.Response | None:
        """The answer, or None when this router has no such path (404). Raises RouterError."""
        headers = {"Authorization": f"Bearer {self.settings.token}"}
        try:
            async with httpx.AsyncClient(
                base_url=self.settings.url, timeout=self.settings.timeout_seconds
            ) as c:
                answer = await c.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise RouterError(
                "unreachable", f"{method} {path}: {type(exc).__name__} {exc}", router=self.name
            ) from exc
        if answer.status_code == 404:
            return None
        if answer.status_code in (401, 403):
            raise RouterError(
                "rejected",
                f"{method} {path}: {answer.status_code}, the admin token was refused",
                router=self.name,
            )
        if answer.status_code >= 400:
            raise RouterError(
                "rejected", f"{method} {path}: {answer.status_code} {answer.text[:300]}", router=self.name
            )
        return answer

    async def _need(self, method: str, path: str, body: object = None) -> httpx.Response:
        answer = await self._call(method, path, body)
        if answer is None:
            raise RouterError(
                "unsupported",
                f"this router has no {path}",
                router=self.name,
                hint="the demo's fronts only have /-/weights and /-/stats; use livesite's built-in router",
            )
        return answer

    async def _weights(self, method: str, body: object = None) -> dict[str, int]:
        answer = await self._need(method, "/-/weights", body)
        try:
            return _WEIGHTS.validate_json(answer.content)
        except ValidationError as exc:
            raise RouterError(
                "rejected", f"/-/weights answered {answer.text[:200]!r}", router=self.name
            ) from exc

    async def set_weights(self, weights: Mapping[str, int]) -> None:
        async with self._lock:
            weights = check_weights(self.name, weights, list(await self._weights("GET")))
            answered = await self._weights("PUT", weights)
            wrong = {k: answered.get(k) for k, v in weights.items() if answered.get(k) != v}
            if wrong:
                raise RouterError(
                    "mismatch", f"asked {dict(weights)}, the router answered {answered}", router=self.name
                )
            self.asked.weights.update(weights)

    async def set_routes(self, routes: Sequence[Route]) -> None:
        wanted = check_routes(self.name, routes, list(await self._weights("GET")))
        async with self._lock:
            body = {"routes": [r.model_dump(exclude_none=True) for r in wanted]}
            await self._need("PUT", "/-/routes", body)
            self.asked.routes = wanted

    async def verify(self) -> RouterState:
        async with self._lock:
            backends = await self._call("GET", "/-/backends")
            routes_answer = await self._call("GET", "/-/routes")
            routes = None
            if routes_answer is not None:
                routes = _parse(self.name, _RoutesBody, routes_answer).routes
            if backends is None:
                weights = await self._weights("GET")
                draining: list[str] = []
                generation = fingerprint(weights, routes, draining)
            else:
                table = _parse(self.name, _Backends, backends)
                weights = {b.name: b.weight for b in table.backends}
                draining = [b.name for b in table.backends if b.draining]
                generation = str(table.generation)
        state = RouterState(weights=weights, routes=routes, draining=draining, generation=generation)
        return self.asked.check(self.name, state)

    async def stats(self) -> dict[str, BackendStats]:
        stats = _parse(self.name, _Stats, await self._need("GET", "/-/stats"))
        out = {}
        for name, b in stats.backends.items():
            count = b.latency.count if b.latency is not None else b.requests
            buckets = [(le, n) for le, n in b.latency.buckets if le != float("inf")] if b.latency else None
            out[name] = BackendStats(
                requests=b.requests,
                errors=b.errors,
                status=b.status,
                latency=Latency(
                    count=count,
                    sum_seconds=b.latency_seconds_sum,
                    mean_seconds=b.latency_seconds_sum / count if count else None,
                    buckets=buckets or None,
                ),
            )
        return out


def _parse(router: str, model: type[M], answer: httpx.Response) -> M:
    try:
        return model.model_validate_json(answer.content)
    except ValidationError as exc:
        raise RouterError(
            "rejected",
            f"{answer.request.url.path} answered something else: {answer.text[:200]!r}",
            router=router,
        ) from exc
