"""Requests for the crawler: keep-alive connections per origin on ``livesite.net.http1``, a rate
limit, and a deadline on every request.

A crawl asks one origin for thousands of pages: a new connection per page would cost a handshake
each and leave thousands of sockets in TIME_WAIT, so idle connections are kept per origin (never
more than the crawl's concurrency) and reused. A kept connection the server closed while idle fails
before its first byte; that says nothing about the page, so the request gets one fresh connection.

A page larger than ``max_body_bytes`` is not an error: its status is known, its body is not read
on (the connection is dropped), and the answer holds what was read and says ``too_big``.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from livesite.net.errors import ProbeError
from livesite.net.http1 import Connection, Progress, Target, build_request, exchange, open_connection
from livesite.net.resolve import Resolver
from livesite.results import FailureKind


@dataclass(slots=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    too_big: bool = False


class RateLimit:
    """At most ``per_second`` request starts a second, evenly spaced (no bursts)."""

    def __init__(self, per_second: float) -> None:
        self.gap = 1.0 / per_second
        self.next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(now, self.next)
        self.next = slot + self.gap
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass(slots=True)
class Fetcher:
    """Fetches URLs for one crawl. Call :meth:`close` when the crawl ends (in ``finally``)."""

    headers: Sequence[tuple[str, str]]
    timeout_seconds: float
    max_body_bytes: int
    ssl_context: ssl.SSLContext | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)  # host → IP address, as a zone's resolve
    resolver: Resolver | None = None
    rate: RateLimit | None = None
    max_idle_per_origin: int = 16
    requests: int = 0
    _idle: dict[tuple[str, str, int], list[Connection]] = field(default_factory=dict)

    async def fetch(self, url: str, method: str = "GET") -> Answer:
        """One request, no redirects followed.

        Raises:
            ProbeError: no usable answer (dns, connect, tls, timeout, protocol), with a message saying why.
        """
        target = Target.parse(url)
        request = build_request(method, target, self.headers, None, keep_alive=True)
        if self.rate is not None:
            await self.rate.wait()
        self.requests += 1
        timeout = self.timeout_seconds if math.isfinite(self.timeout_seconds) else None
        try:
            async with asyncio.timeout(timeout):
                return await self._fetch(target, request, url)
        except TimeoutError:
            raise ProbeError(FailureKind.timeout, f"no answer within {self.timeout_seconds:g}s") from None

    async def _fetch(self, target: Target, request: bytes, url: str) -> Answer:
        key = (target.scheme, target.host, target.port)
        kept = self._take(key)
        if kept is not None:
            try:
                return await self._send(key, kept, request, url)
            except ProbeError as e:
                if e.kind is not FailureKind.protocol or kept.protocol.first_byte_at:
                    raise
        connection = await open_connection(
            target,
            progress=Progress(),
            overrides=self.overrides,
            ssl_context=self.ssl_context if target.scheme == "https" else None,
            server_name=None,
            max_body_bytes=self.max_body_bytes,
            resolver=self.resolver,
        )
        return await self._send(key, connection, request, url)

    def _take(self, key: tuple[str, str, int]) -> Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.usable:
                connection.protocol.reset()
                return connection
            connection.close()
        return None

    async def _send(
        self, key: tuple[str, str, int], connection: Connection, request: bytes, url: str
    ) -> Answer:
        protocol = connection.protocol
        progress = Progress()
        protocol.progress = progress
        try:
            response = await exchange(connection, request, progress, url)
        except BaseException as e:
            # What was read of a page over the limit is kept (the chunk that crossed it never is):
            # its links are checked all the same. Taken before abort, which lets the pieces go.
            prefix = b"".join(protocol.body)
            connection.abort()
            if (
                isinstance(e, ProbeError)
                and protocol.headers_done
                and protocol.body_size > self.max_body_bytes
            ):
                return Answer(protocol.status, _header_map(protocol.headers), prefix, too_big=True)
            raise
        idle = self._idle.setdefault(key, [])
        if connection.usable and len(idle) < self.max_idle_per_origin:
            protocol.waiting = False
            idle.append(connection)
        else:
            connection.close()
        return Answer(response.status, response.header_map(), response.body)

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


def _header_map(headers: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out
