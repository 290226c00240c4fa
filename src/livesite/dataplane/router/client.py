"""The client side of the router: one asyncio Protocol per client connection, parsed by httptools.

A request is read whole (head bounded by :class:`~.settings.Limits`, body up to ``max_body_bytes``)
before it is forwarded: like nginx's default request buffering, this keeps a slow client from holding
a backend connection, and lets a request that could not reach one backend go to another. The answer
is streamed back as it arrives. Requests pipelined on one connection are answered in order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, cast

import httptools

from livesite.dataplane.router.http import HOP_BY_HOP, connection_tokens, error_body, simple_response

if TYPE_CHECKING:
    from livesite.dataplane.router.core import Backend, Router
    from livesite.dataplane.router.upstream import UpstreamConnection


_CONNECTION_OPTIONS = frozenset({b"keep-alive", b"close"})  # Connection values that name no header
_STATUS_LINES: dict[tuple[int, bytes], bytes] = {}  # "HTTP/1.1 200 OK\r\n" made once, not per answer


class Request:
    __slots__ = ("body", "chunked", "expect", "headers", "http10", "keep_alive", "lower", "method", "path")

    def __init__(self) -> None:
        self.method = b""
        self.path = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.lower: dict[str, str] | None = None  # lower-case header names → values, built on demand
        self.body: list[bytes] = []
        self.keep_alive = True
        self.http10 = False
        self.chunked = False
        self.expect = False  # Expect: 100-continue

    def header_map(self) -> dict[str, str]:
        """Header names in lower case → their (latin-1) values; the last of repeated ones wins."""
        if self.lower is None:
            self.lower = {n.decode("latin-1").lower(): v.decode("latin-1") for n, v in self.headers}
        return self.lower


class ClientConnection(asyncio.Protocol):
    """Reads requests, hands each to the router in turn, streams the answers back."""

    # Slots: one of these is made per accepted connection, the hot cost of new-connection traffic.
    __slots__ = (
        "active",
        "backend",
        "body_bytes",
        "close_after",
        "closed",
        "current",
        "deadline",
        "head_bytes",
        "head_size",
        "header_count",
        "in_head",
        "last_backend",
        "limits",
        "loop",
        "out",
        "parser",
        "peer",
        "queue",
        "reading_paused",
        "response_chunked",
        "retries",
        "router",
        "started",
        "status",
        "transport",
        "tried",
        "upstream",
        "writing_paused",
    )

    def __init__(self, router: Router) -> None:
        self.router = router
        self.loop = router.loop
        self.limits = router.settings.limits
        self.transport: asyncio.Transport | None = None
        self.peer = b"unknown"
        self.parser = httptools.HttpRequestParser(self)
        self.current: Request | None = None  # being read
        self.queue: deque[Request] = deque()  # read whole, waiting their turn
        self.active: Request | None = None  # being answered
        self.backend: Backend | None = None
        self.upstream: UpstreamConnection | None = None
        self.tried: set[str] = set()
        self.retries = 0
        self.last_backend = ""
        self.started = 0.0
        self.status = 0
        self.response_chunked = False
        self.close_after = False
        self.in_head = False
        self.head_bytes = 0
        self.header_count = 0
        self.head_size = 0
        self.body_bytes = 0
        self.deadline = 0.0  # loop time after which the client has been too slow (0: none)
        self.out: list[bytes] = []  # answer bytes not yet written (see flush)
        self.reading_paused = False
        self.writing_paused = False
        self.closed = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self.peer = str(peer[0]).encode()
        self.router.clients.add(self)
        self.deadline = self.loop.time() + self.router.settings.timeouts.idle_seconds

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.router.clients.discard(self)
        upstream, self.upstream = self.upstream, None
        if upstream is not None and upstream.sink is self:
            upstream.sink = None
            upstream.close()  # the client left mid-answer: the rest of it has nowhere to go
            if self.backend is not None:
                self.backend.in_flight -= 1  # not the backend's fault: no error, no latency sample

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self.in_head:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(501, "protocol upgrades (WebSocket) are not supported by this router")
        except httptools.HttpParserError as exc:
            refused = exc.__context__
            if isinstance(refused, _Refused):
                self._reject(refused.status, refused.message)
            elif refused is not None:
                raise refused from exc  # a bug of ours inside a callback, not the client's fault
            else:
                self._reject(400, f"malformed request: {exc}")
        else:
            # An endless head in small pieces is caught here, before httptools glues it together.
            if self.in_head and self.head_bytes > 2 * self.limits.max_head_bytes:
                self._reject(431, f"the request head is larger than {self.limits.max_head_bytes} bytes")

    def pause_writing(self) -> None:
        self.writing_paused = True
        if self.upstream is not None:
            self.upstream.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.upstream is not None:
            self.upstream.resume_reading()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self.current = Request()
        self.in_head = True
        self.head_bytes = 0
        self.header_count = 0
        self.head_size = 0
        self.body_bytes = 0
        if self.active is None:
            self.deadline = self.loop.time() + self.router.settings.timeouts.request_seconds

    def on_url(self, url: bytes) -> None:
        request = self.current
        assert request is not None
        request.path += url
        if len(request.path) > self.limits.max_url_bytes:
            raise _Refused(414, f"the request target is longer than {self.limits.max_url_bytes} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self.current
        assert request is not None
        self.header_count += 1
        if self.header_count > self.limits.max_header_count:
            raise _Refused(431, f"the request has more than {self.limits.max_header_count} headers")
        request.headers.append((name, value))
        self.head_size += len(name) + len(value) + 4
        size = len(name)  # the length first: most headers are none of these, and lower() allocates
        if size == 14 and name.lower() == b"content-length":
            try:
                length = int(value)
            except ValueError:
                raise _Refused(400, "Content-Length is not a number") from None
            if length > self.limits.max_body_bytes:
                raise _Refused(413, f"the request body is larger than {self.limits.max_body_bytes} bytes")
        elif size == 17 and name.lower() == b"transfer-encoding":
            request.chunked = True
        elif size == 6 and name.lower() == b"expect" and value.lower() == b"100-continue":
            request.expect = True

    def on_headers_complete(self) -> None:
        request = self.current
        assert request is not None
        self.in_head = False
        if len(request.path) + self.head_size > self.limits.max_head_bytes:
            raise _Refused(431, f"the request head is larger than {self.limits.max_head_bytes} bytes")
        parser = self.parser
        if parser.should_upgrade():
            raise _Refused(501, "protocol upgrades (WebSocket) are not supported by this router")
        request.method = parser.get_method()
        request.keep_alive = parser.should_keep_alive()
        request.http10 = parser.get_http_version() == "1.0"
        if request.expect and self.active is None and not self.queue and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        request = self.current
        assert request is not None
        self.body_bytes += len(body)
        if self.body_bytes > self.limits.max_body_bytes:
            raise _Refused(413, f"the request body is larger than {self.limits.max_body_bytes} bytes")
        request.body.append(body)

    def on_message_complete(self) -> None:
        request, self.current = self.current, None
        assert request is not None
        self.queue.append(request)
        if len(self.queue) >= self.limits.max_pipelined and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        if self.active is None:
            self._next()

    # the exchange, driven by the router and the upstream connection

    def _next(self) -> None:
        if self.closed:
            return
        if not self.queue:
            timeouts = self.router.settings.timeouts
            if self.current is None:
                self.deadline = self.loop.time() + timeouts.idle_seconds
            else:  # the next request began while this one was answered: its clock starts now at the latest
                self.deadline = self.loop.time() + timeouts.request_seconds
            return
        request = self.queue.popleft()
        if self.reading_paused and self.transport is not None:
            self.transport.resume_reading()
            self.reading_paused = False
        self.active = request
        self.deadline = 0.0
        self.tried = set()
        self.retries = 0
        self.close_after = not request.keep_alive
        self.router.handle(self, request)

    def send_own(
        self,
        status: int,
        body: bytes,
        *,
        content_type: bytes = b"application/json",
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Answers the active request with the router's own response (admin API, errors, faults)."""
        request = self.active
        keep = request is not None and request.keep_alive and not self.close_after
        extra = list(headers or ())
        if keep and request is not None and request.http10:
            extra.append((b"Connection", b"keep-alive"))
        if self.transport is not None and not self.closed:
            self.transport.write(
                simple_response(status, body, content_type=content_type, close=not keep, extra=extra)
            )
        self._done(keep)

    def abort(self) -> None:
        """Drops the connection without a word (the ``abort`` fault)."""
        self.active = None
        if self.transport is not None:
            self.transport.abort()

    def forward(self, backend: Backend, conn: UpstreamConnection, data: bytes, head_only: bool) -> None:
        self.backend = backend
        self.last_backend = backend.name
        self.upstream = conn
        self.started = self.loop.time()
        self.status = 0
        conn.send(self, data, head_only)
        if self.writing_paused:
            conn.pause_reading()

    # Sink: what the backend answers

    def response_head(
        self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]], framing: str
    ) -> None:
        self.status = status
        request = self.active
        assert request is not None
        keep = request.keep_alive and not self.close_after
        line = _STATUS_LINES.get((status, reason))
        if line is None:
            line = b"HTTP/1.1 %d %s\r\n" % (status, reason)
            if len(_STATUS_LINES) < 256:
                _STATUS_LINES[(status, reason)] = line
        lines = [line]
        named: frozenset[bytes] = frozenset()  # headers the backend's Connection header makes hop-by-hop
        for name, value in headers:
            lname = name.lower()
            if lname in HOP_BY_HOP:
                if lname == b"connection" and value.lower() not in _CONNECTION_OPTIONS:
                    named = connection_tokens(headers) - _CONNECTION_OPTIONS
                continue
            lines += (name, b": ", value, b"\r\n")
        if named:
            kept = [line]
            for name, value in headers:
                if name.lower() not in named and name.lower() not in HOP_BY_HOP:
                    kept += (name, b": ", value, b"\r\n")
            lines = kept
        append = lines.append
        self.response_chunked = False
        if framing in ("chunked", "close"):
            if request.http10:
                keep = False  # an HTTP/1.0 client knows no chunks: the close ends the body
            else:
                self.response_chunked = True
                append(b"Transfer-Encoding: chunked\r\n")
        backend_header = self.router.backend_header
        if backend_header is not None and self.backend is not None:
            append(backend_header + self.backend.name_bytes + b"\r\n")
        if not keep:
            append(b"Connection: close\r\n")
        elif request.http10:
            append(b"Connection: keep-alive\r\n")
        append(b"\r\n")
        self.close_after = not keep
        self.out.append(b"".join(lines))

    def response_body(self, data: bytes) -> None:
        if not data:
            return
        if self.response_chunked:
            self.out += (b"%x\r\n" % len(data), data, b"\r\n")
        else:
            self.out.append(data)

    def flush(self) -> None:
        """Writes what one read from the backend produced in one go: head and body in one syscall."""
        out = self.out
        if out:
            if self.transport is not None and not self.closed:
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

    def response_end(self) -> None:
        if self.response_chunked:
            self.out.append(b"0\r\n\r\n")
        self.flush()
        self.upstream = None
        backend = self.backend
        if backend is not None:
            backend.finished(self.status, self.loop.time() - self.started)
        self._done(not self.close_after)

    def upstream_failed(self, reason: str, *, answered: bool, stale: bool) -> None:
        self.upstream = None
        backend = self.backend
        if backend is not None:
            backend.finished(0, self.loop.time() - self.started)
        if answered:
            self.flush()
            self.abort()  # the head is out: only a cut tells the client the body is incomplete
            return
        self.router.upstream_failed(self, reason, stale=stale)

    def _done(self, keep: bool) -> None:
        self.active = None
        self.backend = None
        if not keep:
            if self.transport is not None:
                self.transport.close()
            self.closed = True
            return
        self._next()

    # timeouts and refusals

    def expire(self, now: float) -> None:
        """Called by the router's sweep once ``deadline`` has passed."""
        if self.active is not None:
            return
        if self.current is not None:
            self._reject(408, "the request was not received in time")
        elif self.transport is not None:
            self.transport.close()  # an idle keep-alive connection: close quietly

    def _reject(self, status: int, message: str) -> None:
        """Answers a request we refuse to read further, then closes: the stream is out of step."""
        self.deadline = 0.0
        self.current = None
        self.queue.clear()
        if self.transport is not None and not self.transport.is_closing():
            if self.active is None:
                self.transport.write(simple_response(status, error_body(message), close=True))
                self.transport.close()
            else:
                self.transport.abort()
        self.closed = True


class _Refused(Exception):
    """Raised from a parser callback: httptools stops and re-raises it as an HttpParserCallbackError."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
