"""Connections to one backend: a pool of keep-alive HTTP/1.1 connections, each an asyncio Protocol.

A connection carries one exchange at a time and reports what the backend answers to its *sink*
(the client side of the router) as it arrives: the head, body pieces, the end, or a failure. The
body is never buffered here; when the client cannot keep up the sink pauses the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, cast

import httptools

_NO_BODY_STATUS = (204, 304)
MAX_HEAD_BYTES = 256 * 1024  # of an answer's head (1xx heads included): far above any real backend's


class Sink(Protocol):
    def response_head(
        self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]], framing: str
    ) -> None:
        """``framing`` is "length", "chunked", "close" (ends when the backend closes) or "none"."""

    def response_body(self, data: bytes) -> None: ...

    def response_end(self) -> None: ...

    def flush(self) -> None:
        """Called after each read from the backend: pass on what it produced."""

    def upstream_failed(self, reason: str, *, answered: bool, stale: bool) -> None:
        """No (whole) answer. ``answered``: a head was already passed on, so the client sees a cut.
        ``stale``: a reused connection closed before a byte came back (the backend had dropped it)."""


class UpstreamConnection(asyncio.Protocol):
    __slots__ = (
        "answered",
        "deadline",
        "framing",
        "got_bytes",
        "head_bytes",
        "head_only",
        "headers",
        "idle_since",
        "parser",
        "paused",
        "pool",
        "reason",
        "reused",
        "sink",
        "skipping",
        "transport",
    )

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.sink: Sink | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.reason = b""
        self.framing = "none"
        self.answered = False
        self.got_bytes = False
        self.head_bytes = 0
        self.head_only = False
        self.skipping = False  # inside a 1xx interim head, which is not passed on
        self.reused = False
        self.paused = False  # reading paused because the client could not keep up
        self.deadline = 0.0  # loop time after which a silent backend is given up (0: no exchange)
        self.idle_since = 0.0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        self.pool.open.add(self)

    def data_received(self, data: bytes) -> None:
        if self.sink is None:
            self.close()  # bytes nobody asked for: this connection is out of step, never reuse it
            return
        self.deadline = self.pool.loop.time() + self.pool.timeout_seconds
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail("the backend sent a malformed response")
            return
        if not self.answered and self.sink is not None:
            # llhttp sets no bound on a head: a broken backend's endless headers (or endless 103s)
            # would pile up. The reads that end with the final head still unfinished are bounded.
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD_BYTES:
                self._fail(f"the backend's answer head is larger than {MAX_HEAD_BYTES // 1024} KiB")
                return
        sink = self.sink
        if sink is not None:
            sink.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.forget(self)
        sink = self.sink
        if sink is None:
            return
        if self.answered and self.framing == "close":
            self.sink = None
            sink.response_end()  # a body delimited by the close: the close is its end
        else:
            self._fail("the backend closed the connection")

    def pause_writing(self) -> None:  # a request body larger than the socket buffer: harmless to ignore
        pass

    def resume_writing(self) -> None:
        pass

    # httptools callbacks

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        size = len(name)  # the length first: most headers are neither, and lower() allocates
        if size == 14 and name.lower() == b"content-length":
            if self.framing == "close":
                self.framing = "length"
        elif size == 17 and name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
            self.framing = "chunked"

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:
            self.skipping = True  # 100 Continue, 103 Early Hints: the final answer follows
            self.headers = []
            self.reason = b""
            self.framing = "close"
            return
        if self.head_only or status in _NO_BODY_STATUS:
            self.framing = "none"
        framing = self.framing
        self.answered = True
        sink = self.sink
        assert sink is not None
        sink.response_head(status, self.reason, self.headers, framing)
        if self.head_only and self.sink is not None:
            # A HEAD answer announces a body it does not send; llhttp cannot be told, so the message
            # ends here. The connection is not reused: a backend that wrongly sends the body anyway
            # would put it in front of the next answer.
            self._finish(False)

    def on_body(self, data: bytes) -> None:
        sink = self.sink
        if sink is not None and not self.skipping:
            sink.response_body(data)

    def on_message_complete(self) -> None:
        if self.skipping:
            self.skipping = False
            return
        if self.sink is None:
            return
        self._finish(self.parser.should_keep_alive())

    # exchanges

    def send(self, sink: Sink, data: bytes, head_only: bool) -> None:
        assert self.transport is not None
        self.sink = sink
        self.head_only = head_only
        self.headers = []
        self.reason = b""
        self.framing = "close"  # until a Content-Length or chunked Transfer-Encoding says otherwise
        self.answered = False
        self.got_bytes = False
        self.head_bytes = 0
        self.skipping = False
        self.deadline = self.pool.loop.time() + self.pool.timeout_seconds
        if self.paused:  # paused for the previous client, which stopped reading just as its answer ended
            self.resume_reading()
        self.transport.write(data)

    def pause_reading(self) -> None:
        if self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and self.paused:
            self.paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()
        self.pool.forget(self)

    def expire(self) -> None:
        """The backend stayed silent past the timeout during an exchange."""
        self._fail("the backend did not answer in time", timeout=True)

    def _finish(self, keep_alive: bool) -> None:
        sink, self.sink = self.sink, None
        self.deadline = 0.0
        if keep_alive and self.transport is not None and not self.transport.is_closing():
            self.reused = True
            self.pool.release(self)
        else:
            self.close()
        assert sink is not None
        sink.response_end()

    def _fail(self, reason: str, timeout: bool = False) -> None:
        sink, self.sink = self.sink, None
        self.deadline = 0.0
        self.close()
        if sink is not None:
            stale = self.reused and not self.got_bytes and not timeout
            sink.upstream_failed(
                reason + (" (timeout)" if timeout else ""), answered=self.answered, stale=stale
            )


class Pool:
    """Idle keep-alive connections to one backend, newest first (the warmest socket)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        host: str,
        port: int,
        *,
        connect_seconds: float,
        timeout_seconds: float,
        idle_seconds: float,
        max_idle: int,
    ) -> None:
        self.loop = loop
        self.host = host
        self.port = port
        self.connect_seconds = connect_seconds
        self.timeout_seconds = timeout_seconds
        self.idle_seconds = idle_seconds
        self.max_idle = max_idle
        self.idle: list[UpstreamConnection] = []
        self.open: set[UpstreamConnection] = set()

    def take_idle(self) -> UpstreamConnection | None:
        idle = self.idle
        while idle:
            conn = idle.pop()
            transport = conn.transport
            if transport is not None and not transport.is_closing():
                return conn
        return None

    async def connect(self) -> UpstreamConnection:
        """A new connection. Raises OSError or TimeoutError when the backend cannot be reached."""
        factory: Callable[[], UpstreamConnection] = lambda: UpstreamConnection(self)  # noqa: E731
        async with asyncio.timeout(self.connect_seconds):
            _, protocol = await self.loop.create_connection(factory, self.host, self.port)
        return protocol

    def release(self, conn: UpstreamConnection) -> None:
        if len(self.idle) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = self.loop.time()
        self.idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        self.open.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)

    def sweep(self, now: float) -> None:
        """Closes idle connections unused too long and gives up exchanges whose backend went silent."""
        for conn in list(self.open):
            if conn.sink is not None:
                if conn.deadline and now >= conn.deadline:
                    conn.expire()
            elif conn.idle_since and now - conn.idle_since >= self.idle_seconds:
                conn.close()

    def close_all(self) -> None:
        for conn in list(self.open):
            conn.close()
        self.idle.clear()
