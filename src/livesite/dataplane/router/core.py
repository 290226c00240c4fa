"""The router: its backends and their state, the choice of a backend per request, and its lifecycle.

State lives here and nowhere else; the admin API (``admin.py``) and the health checks (``health.py``)
change it through :class:`Router`'s methods, each of which bumps ``generation`` so that a caller can
verify its change by reading it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Mapping

from livesite.clock import Clock, SystemClock
from livesite.dataplane.router import admin, health
from livesite.dataplane.router.balance import RoundRobin, bucket, cohort_backend
from livesite.dataplane.router.client import ClientConnection, Request
from livesite.dataplane.router.faults import Fault, Faults
from livesite.dataplane.router.http import REQUEST_DROP, connection_tokens, error_body
from livesite.dataplane.router.settings import BackendSpec, Route, RouterSettings, Sticky
from livesite.dataplane.router.stats import BackendStats
from livesite.dataplane.router.upstream import Pool, UpstreamConnection

MAX_WEIGHT = 1_000_000  # as for weights given at start (settings.BackendSpec)
_IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
_BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})
_CONNECTION_OPTIONS = frozenset({b"keep-alive", b"close"})  # Connection values that name no header


class WeightsError(ValueError):
    """Weights that cannot be applied; nothing was changed."""


class Backend:
    """One backend's live state: weight, health, in-flight requests, counters and connection pool."""

    def __init__(self, spec: BackendSpec, pool: Pool) -> None:
        self.spec = spec
        self.name = spec.name
        self.name_bytes = spec.name.encode()
        self.host_header = f"{spec.host}:{spec.port}".encode()
        self.weight = spec.weight
        self.healthy = True
        self.in_flight = 0
        self.stats = BackendStats()
        self.pool = pool
        self.fails = 0  # consecutive failed health checks
        self.passes = 0

    def finished(self, status: int, seconds: float) -> None:
        self.in_flight -= 1
        self.stats.record(status, seconds)


class Router:
    """A running router. Create it, ``await start()``, ``await stop()``; or ``async with``."""

    def __init__(self, settings: RouterSettings, clock: Clock | None = None) -> None:
        """``clock`` times fault TTLs (a FakeClock in tests); the data path uses the loop's own."""
        self.settings = settings
        clock = clock or SystemClock()
        self.loop = asyncio.get_running_loop()
        t = settings.timeouts
        self.backends: dict[str, Backend] = {
            spec.name: Backend(
                spec,
                Pool(
                    self.loop,
                    spec.host,
                    spec.port,
                    connect_seconds=t.connect_seconds,
                    timeout_seconds=t.upstream_seconds,
                    idle_seconds=t.upstream_idle_seconds,
                    max_idle=settings.max_idle_per_backend,
                ),
            )
            for spec in settings.backends
        }
        self.order = [spec.name for spec in settings.backends]
        self.rr = RoundRobin(self.weights())
        self.routes: tuple[Route, ...] = settings.routes
        self.sticky: Sticky | None = settings.sticky
        self.faults = Faults(clock.monotonic, clock.time)
        self.generation = 1
        self.since = time.time()
        self.all_healthy = True
        self.clients: set[ClientConnection] = set()
        self.backend_header: bytes | None = (
            settings.backend_header.encode() + b": " if settings.backend_header else None
        )
        self.admin_token = settings.admin_token.encode() if settings.admin_token else None
        self.server: asyncio.Server | None = None
        self.port = settings.port
        self._tasks: list[asyncio.Task[None]] = []

    # lifecycle

    async def start(self, sock: socket.socket | None = None) -> None:
        """Starts serving on ``settings.host:port``, or on ``sock`` (a listening socket bound by a parent)."""
        if sock is not None:
            self.server = await self.loop.create_server(
                lambda: ClientConnection(self), sock=sock, backlog=4096
            )
        else:
            self.server = await self.loop.create_server(
                lambda: ClientConnection(self),
                self.settings.host,
                self.settings.port,
                backlog=4096,
                reuse_address=True,
            )
        self.port = int(self.server.sockets[0].getsockname()[1])
        self._tasks.append(self.loop.create_task(self._sweep()))
        if self.settings.health.enabled:
            self._tasks.append(self.loop.create_task(health.run(self)))

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stops accepting, lets answers in progress finish (up to ``grace_seconds``), closes the rest."""
        if self.server is not None:
            self.server.close()
        for client in list(self.clients):
            if client.active is None and client.transport is not None:
                client.transport.close()
        deadline = self.loop.time() + grace_seconds
        while any(c.active is not None for c in self.clients) and self.loop.time() < deadline:
            await asyncio.sleep(0.02)
        for client in list(self.clients):
            if client.transport is not None:
                client.transport.abort()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for backend in self.backends.values():
            backend.pool.close_all()
        if self.server is not None:
            await self.server.wait_closed()

    async def __aenter__(self) -> Router:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        host = self.settings.host
        if self.server is not None and self.server.sockets:
            host = str(self.server.sockets[0].getsockname()[0])
        return f"http://{host}:{self.port}"

    async def _sweep(self) -> None:
        t = self.settings.timeouts
        tick = max(0.02, min(1.0, t.request_seconds / 4, t.idle_seconds / 4, t.upstream_seconds / 4))
        while True:
            await asyncio.sleep(tick)
            now = self.loop.time()
            for client in list(self.clients):
                if client.deadline and now >= client.deadline:
                    client.expire(now)
            for backend in self.backends.values():
                backend.pool.sweep(now)
            if self.faults.expire():
                self.generation += 1

    # state changes (each bumps the generation)

    def weights(self) -> dict[str, int]:
        return {name: self.backends[name].weight for name in self.order}

    def set_weights(self, asked: Mapping[str, int]) -> dict[str, int]:
        """Applies some or all weights at once.

        Raises:
            WeightsError: an unknown backend, a negative weight, or every weight 0 afterwards.
        """
        unknown = sorted(set(asked) - set(self.backends))
        if unknown:
            raise WeightsError(f"unknown backends: {', '.join(unknown)} (backends: {', '.join(self.order)})")
        if any(w < 0 or w > MAX_WEIGHT for w in asked.values()):
            raise WeightsError(f"weights must be 0 or more, and at most {MAX_WEIGHT:,}")
        if sum({**self.weights(), **asked}.values()) <= 0:
            raise WeightsError("at least one backend needs a weight above 0")
        for name, weight in asked.items():
            self.backends[name].weight = weight
        self.rr.set(self.weights())
        self.generation += 1
        return self.weights()

    def set_routes(self, routes: tuple[Route, ...] | None, sticky: Sticky | None, set_sticky: bool) -> None:
        """Raises WeightsError when a route names an unknown backend."""
        if routes is not None:
            unknown = sorted({r.backend for r in routes} - set(self.backends))
            if unknown:
                raise WeightsError(f"routes name unknown backends: {', '.join(unknown)}")
            self.routes = routes
        if set_sticky:
            self.sticky = sticky
        self.generation += 1

    def set_health(self, backend: Backend, healthy: bool) -> None:
        if backend.healthy != healthy:
            backend.healthy = healthy
            self.all_healthy = all(b.healthy for b in self.backends.values())
            self.generation += 1

    def reset_stats(self) -> None:
        for backend in self.backends.values():
            backend.stats = BackendStats()
        self.since = time.time()

    # the data path

    def choose(self, request: Request, exclude: set[str]) -> Backend | None:
        """Routes first, then the user's cohort, then smooth weighted round-robin over healthy backends."""
        backends = self.backends
        if self.routes:
            for route in self.routes:
                if _route_matches(route, request):
                    backend = backends[route.backend]
                    if backend.healthy and backend.name not in exclude:
                        return backend
        sticky = self.sticky
        if sticky is not None and not exclude:
            key = _sticky_key(sticky, request)
            if key is not None:
                name = cohort_backend(bucket(key), self.order, self.weights())
                if name is not None and backends[name].healthy:
                    return backends[name]
        if self.all_healthy and not exclude:
            name = self.rr.pick()
        else:
            name = self.rr.pick({n for n, b in backends.items() if b.healthy and n not in exclude})
        return None if name is None else backends[name]

    def handle(self, client: ClientConnection, request: Request) -> None:
        """A whole request: answer it here (admin API, fault) or forward it to a backend."""
        if request.path.startswith(b"/-/"):
            admin.handle(self, client, request)
            return
        backend = self.choose(request, client.tried)
        if backend is None:
            client.send_own(503, error_body("no healthy backend with a weight above 0"))
            return
        if self.faults:
            fault = self.faults.pick(request.path.decode("latin-1"), request.header_map(), backend.name)
            if fault is not None:
                self._inject(fault, client, request, backend)
                return
        self._send(client, request, backend, fresh=False)

    def _inject(self, fault: Fault, client: ClientConnection, request: Request, backend: Backend) -> None:
        spec = fault.spec
        stats = backend.stats
        if spec.action == "delay":
            self.loop.call_later(spec.delay_ms / 1000, self._send_later, client, request, backend)
            return
        stats.requests += 1
        stats.faults += 1
        stats.record(spec.status if spec.action == "status" else 0, 0.0)
        if spec.action == "status":
            client.send_own(spec.status, error_body("injected fault", fault=spec.id))
        else:
            client.abort()

    def _send_later(self, client: ClientConnection, request: Request, backend: Backend) -> None:
        if not client.closed and client.active is request:
            self._send(client, request, backend, fresh=False)

    def _send(self, client: ClientConnection, request: Request, backend: Backend, *, fresh: bool) -> None:
        client.tried.add(backend.name)
        backend.stats.requests += 1
        backend.in_flight += 1
        data = _wire(request, backend, client.peer)
        conn = None if fresh else backend.pool.take_idle()
        if conn is not None:
            client.forward(backend, conn, data, request.method == b"HEAD")
        else:
            self.loop.create_task(self._connect_and_send(client, request, backend, data))

    async def _connect_and_send(
        self, client: ClientConnection, request: Request, backend: Backend, data: bytes
    ) -> None:
        started = self.loop.time()
        try:
            conn: UpstreamConnection = await backend.pool.connect()
        except (OSError, TimeoutError) as exc:
            backend.finished(0, self.loop.time() - started)
            reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
            self._retry_elsewhere(client, request, f"cannot connect to {backend.name}: {reason}")
            return
        if client.closed or client.active is not request:
            backend.in_flight -= 1
            backend.pool.release(conn)
            return
        client.forward(backend, conn, data, request.method == b"HEAD")

    def _retry_elsewhere(self, client: ClientConnection, request: Request, reason: str) -> None:
        """The request never reached a backend: any other healthy one may take it."""
        if client.closed or client.active is not request:
            return
        backend = self.choose(request, client.tried) if self.settings.failover else None
        if backend is None:
            client.send_own(502, error_body(reason))
            return
        self._send(client, request, backend, fresh=False)

    def upstream_failed(self, client: ClientConnection, reason: str, *, stale: bool) -> None:
        """The backend failed before answering. ``stale``: a pooled connection closed before reading."""
        request = client.active
        if client.closed or request is None:
            return
        backend_name = client.last_backend or "the backend"
        if stale and request.method in _IDEMPOTENT and client.retries == 0:
            client.retries += 1
            backend = self.backends.get(client.last_backend) if client.last_backend else None
            if backend is not None:
                self._send(client, request, backend, fresh=True)
                return
        status = 504 if "timeout" in reason else 502
        client.send_own(status, error_body(f"{backend_name}: {reason}"))


def _route_matches(route: Route, request: Request) -> bool:
    headers = request.header_map()
    if route.header is not None:
        got = headers.get(route.header.lower())
    else:
        assert route.cookie is not None
        got = _cookie(headers, route.cookie)
    return got is not None and (route.value == "*" or got == route.value)


def _sticky_key(sticky: Sticky, request: Request) -> str | None:
    headers = request.header_map()
    if sticky.header is not None:
        return headers.get(sticky.header.lower()) or None
    assert sticky.cookie is not None
    return _cookie(headers, sticky.cookie) or None


def _cookie(headers: Mapping[str, str], name: str) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


def _wire(request: Request, backend: Backend, peer: bytes) -> bytes:
    """The request as the backend gets it: hop-by-hop headers dropped, X-Forwarded-For extended."""
    headers = request.headers
    lines = [request.method, b" ", request.path, b" HTTP/1.1\r\n"]
    append = lines.append
    forwarded = b""
    host = False
    named: frozenset[bytes] = frozenset()  # headers the client's Connection header makes hop-by-hop
    for name, value in headers:
        lname = name.lower()
        if lname in REQUEST_DROP:
            if lname == b"connection" and value.lower() not in _CONNECTION_OPTIONS:
                named = connection_tokens(headers) - _CONNECTION_OPTIONS
            continue
        if lname == b"x-forwarded-for":
            forwarded += value + b", "
            continue
        if lname == b"host":
            host = True
        lines += (name, b": ", value, b"\r\n")
    if named:
        del lines[4:]
        forwarded = b""
        for name, value in headers:
            lname = name.lower()
            if lname not in REQUEST_DROP and lname not in named:
                if lname == b"x-forwarded-for":
                    forwarded += value + b", "
                else:
                    lines += (name, b": ", value, b"\r\n")
    if not host:
        append(b"Host: " + backend.host_header + b"\r\n")
    append(b"X-Forwarded-For: " + forwarded + peer + b"\r\n")
    body = b"".join(request.body) if request.body else b""
    if body or request.chunked or request.method in _BODY_METHODS:
        append(b"Content-Length: %d\r\n" % len(body))
    append(b"\r\n")
    append(body)
    return b"".join(lines)
