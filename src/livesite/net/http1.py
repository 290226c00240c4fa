"""A small HTTP/1.1 client on an asyncio Protocol and httptools, timed phase by phase.

Why not httpx or aiohttp: a probe needs the exact split of resolve / connect / tls / processing /
transfer (as blackbox_exporter reports it), a fresh connection per probe by default, and a low CPU
cost per probe so that thousands of checks fit in a fraction of a core. A general-purpose client
hides the first and spends several times the second.

Targets are not trusted: everything they send is bounded as it arrives (``livesite.net.limits``:
head lines, header count and size, chunk framing; ``max_body_bytes`` for the body), a crossed bound
aborts the connection at once, and each read is parsed in one bounded step, so a hostile server costs
its own check a failure and nothing more. Bodies are never decompressed.

Phases are taken from socket events, not from when the awaiting coroutine next runs, so probes that
share a busy loop do not charge each other's work to a phase: connect is the kernel's own measure of
the TCP handshake where it has one (``livesite.net.tcpinfo``), else it ends at ``connection_made``;
processing runs from writing the request to the first byte's ``data_received``; transfer from there
to the parser's ``on_message_complete``. What remains is listed in docs/checks.md, "Timing".
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

import httptools

from livesite.net.errors import ProbeError
from livesite.net.limits import DEFAULT_LIMITS, HeadGuard, Limits, framing_too_long
from livesite.net.resolve import Resolver, resolve
from livesite.net.tcpinfo import connect_seconds
from livesite.results import FailureKind

_now = time.perf_counter


@dataclass(slots=True)
class Progress:
    """Where a request stands, so a timeout can say which phase it stopped in, and the address it
    resolved to (so a failed probe can still say whether it went over IPv4 or IPv6)."""

    phase: str = "resolve"
    started: float = field(default_factory=_now)
    address: str = ""  # the IP address the last connection was opened to ("" until resolved)
    resolve: float = 0.0
    connect: float = 0.0
    tls: float = 0.0
    processing: float = 0.0
    transfer: float = 0.0

    def add(self, other: Progress) -> None:
        self.resolve += other.resolve
        self.connect += other.connect
        self.tls += other.tls
        self.processing += other.processing
        self.transfer += other.transfer


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    url: str
    http_version: str  # of the status line: "1.1", "1.0"
    peer_cert_der: bytes | None = None
    reused: bool = False

    def header_map(self) -> dict[str, str]:
        """Lower-case names; repeated headers joined with ', ' as RFC 9110 allows."""
        out: dict[str, str] = {}
        for name, value in self.headers:
            key = name.lower()
            out[key] = f"{out[key]}, {value}" if key in out else value
        return out


class _Stop(Exception):
    """Raised from a parser callback to make httptools stop at once (the exchange has failed or ended)."""


class _Exchange(asyncio.Protocol):
    """One response read off a connection. httptools calls the on_* methods."""

    def __init__(self, max_body_bytes: int, progress: Progress, limits: Limits = DEFAULT_LIMITS) -> None:
        self.max_body_bytes = max_body_bytes
        self.progress = progress
        self.limits = limits
        self.guard = HeadGuard(limits)
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.body_size = 0
        self.chunks = 0
        self.idle_bytes = 0  # body-phase bytes since the last body byte or chunk: chunk lines, trailers
        self.headers_done = False
        self.complete = False
        self.failed = False
        self.keep_alive = False
        self.http_version = "1.1"
        # perf_counter at socket events, so phases leave out the wait for the awaiting coroutine
        self.connected_at = 0.0
        self.first_byte_at = 0.0
        self.completed_at = 0.0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost = False
        self.expect_body = True  # False for a HEAD request: its answer has headers only
        self.waiting = False  # a request was sent and someone awaits ``done``

    def reset(self) -> None:
        """Ready the protocol for the next response on a kept-alive connection."""
        self.parser = httptools.HttpResponseParser(self)
        self.guard = HeadGuard(self.limits)
        self.headers, self.body, self.body_size = [], [], 0
        self.chunks = self.idle_bytes = 0
        self.headers_done = self.complete = self.failed = False
        self.first_byte_at = self.completed_at = 0.0
        self.done = asyncio.get_running_loop().create_future()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connected_at = _now()
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None or self.failed:
            return  # released or failed: whatever else arrives is not ours to read
        if self.complete:
            self._unasked()
            return
        if not self.first_byte_at:
            self.first_byte_at = _now()
            self.progress.phase = "transfer"
        try:
            view = memoryview(data)
            start = 0
            # The head is scanned (and bounded) before httptools sees it, one head at a time: a 1xx
            # response is followed by another head in the same read.
            while not self.headers_done:
                end = self.guard.scan(data, start)
                if end < 0:
                    parser.feed_data(view[start:])
                    return
                parser.feed_data(view[start:end])
                start = end
                if start == len(data) or self.failed or self.complete:
                    return
            before = (self.body_size, self.chunks)
            parser.feed_data(view[start:] if start else data)
            if not self.complete and (self.body_size, self.chunks) == before:
                self.idle_bytes += len(data) - start
                if self.idle_bytes > self.limits.max_line_bytes:
                    self._fail(framing_too_long(self.limits))
            else:
                self.idle_bytes = 0
        except ProbeError as e:
            self._fail(e)
        except httptools.HttpParserUpgrade:
            self._fail(
                ProbeError(FailureKind.protocol, "the server switched protocols (upgrade), not HTTP/1.1")
            )
        except httptools.HttpParserError as e:
            if isinstance(e.__context__, ProbeError):
                self._fail(e.__context__)  # a bound crossed inside a callback (httptools chains it)
            elif not self.failed and not self.complete:
                self._fail(ProbeError(FailureKind.protocol, f"invalid HTTP response: {e}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.done.done() or not self.waiting:
            return  # no request in flight (a failed handshake, an idle kept connection): nobody to tell
        if self.headers_done and not self.complete and self._close_delimited():
            self.complete = True  # no length, no chunking: the body ends where the connection does
            self.completed_at = _now()
            self.done.set_result(None)
        elif self.first_byte_at:
            self._fail(
                ProbeError(FailureKind.protocol, "the connection closed in the middle of the response")
            )
        else:
            self._fail(ProbeError(FailureKind.protocol, "the server closed the connection without answering"))

    def _close_delimited(self) -> bool:
        names = {n.lower() for n, _ in self.headers}
        return "content-length" not in names and "transfer-encoding" not in names

    # httptools callbacks
    def on_message_begin(self) -> None:
        if self.complete or self.failed:
            self._unasked()
            raise _Stop  # a second response nobody asked for: stop parsing

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.headers_done:
            self.guard.count_trailer()  # a trailer after a chunked body: same budget as the headers
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        assert self.parser is not None  # httptools calls back from inside feed_data
        self.status = self.parser.get_status_code()
        self.http_version = self.parser.get_http_version()
        if not self.expect_body and not 100 <= self.status < 200:
            # httptools cannot be told the request was HEAD, so it would wait for Content-Length
            # bytes that never come. The response ends here.
            self.on_message_complete()

    def on_chunk_header(self) -> None:
        self.chunks += 1

    def on_body(self, body: bytes) -> None:
        if self.complete or self.failed:
            self._unasked()
            raise _Stop  # a body after HEAD, or after a failure: not ours to keep
        self.body_size += len(body)
        if self.body_size > self.max_body_bytes:
            self._fail(
                ProbeError(FailureKind.http, f"the body is larger than the {self.max_body_bytes}-byte limit")
            )
            raise _Stop
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200 and self.status != 101:
            # An interim response (100 Continue, 103 Early Hints): the real one follows. Its head is
            # dropped; the guard's counts go on, so endless interim heads stay bounded.
            self.headers = []
            self.headers_done = False
            self.status = 0
            return
        if self.complete:
            return
        self.completed_at = _now()
        self.complete = True
        self.keep_alive = self.parser is not None and self.parser.should_keep_alive()
        if not self.done.done():
            self.done.set_result(None)

    def release(self) -> None:
        """Break the protocol ↔ parser ↔ transport cycles, so a finished probe is freed at once by
        reference counting instead of waiting for the cyclic collector (whose full passes grow with
        every Result still buffered for the store). The body's pieces go too: a probe's memory is
        the Response it returned, and only while someone holds it."""
        self.parser = None
        self.transport = None
        self.body = []

    def _unasked(self) -> None:
        # HTTP/1.1 servers never speak unasked: bytes after the response make the connection unfit
        # for reuse, and reading them would only cost us.
        self.keep_alive = False
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: ProbeError) -> None:
        self.failed = True
        self.keep_alive = False
        if not self.done.done():
            self.done.set_exception(error)
            if not self.waiting:
                self.done.exception()  # nobody will await it: mark it retrieved
        if self.transport is not None:
            self.transport.abort()


@dataclass(slots=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query as sent on the request line

    @property
    def authority(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProbeError(FailureKind.http, f"not an absolute http(s) URL: {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ProbeError(FailureKind.http, f"bad port in URL {url!r}") from None
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return cls(parts.scheme, parts.hostname, port, path)


class Connection:
    """A connection kept open between probes when a check asks for ``reuse_connection``."""

    def __init__(
        self,
        transport: asyncio.Transport,
        protocol: _Exchange,
        cert: bytes | None,
        origin: tuple[str, str, int] | None = None,
        address: str = "",
    ) -> None:
        self.transport = transport
        self.protocol = protocol
        self.cert = cert
        self.origin = origin  # (scheme, host, port) it was opened to: reuse it only for the same
        self.address = address  # the IP address it is connected to

    def serves(self, target: Target) -> bool:
        return self.origin == (target.scheme, target.host, target.port)

    @property
    def usable(self) -> bool:
        return not self.protocol.lost and not self.transport.is_closing() and self.protocol.keep_alive

    def close(self) -> None:
        if self.transport.get_extra_info("ssl_object") is not None:
            # The response is read in full, so nothing is lost; a graceful TLS close would wait for
            # the peer's close_notify and leak the socket if the loop stops first (asyncio.run).
            self.transport.abort()
        else:
            self.transport.close()
        self.protocol.release()

    def abort(self) -> None:
        self.transport.abort()
        self.protocol.release()


async def open_connection(
    target: Target,
    *,
    progress: Progress,
    overrides: Mapping[str, str],
    ssl_context: ssl.SSLContext | None,
    server_name: str | None,
    max_body_bytes: int,
    limits: Limits = DEFAULT_LIMITS,
    resolver: Resolver | None = None,
) -> Connection:
    """Resolve, connect and (for https) handshake, timing each phase.

    ``limits`` bounds what the response may send besides its body (``max_body_bytes``).
    ``resolver`` looks up names that are neither an IP address, nor ``localhost``, nor in
    ``overrides``: pass a long-lived one (a check passes ``Resources.resolver``) so that lookups
    share its cache and threads. Without one, such a name gets a resolver of its own for the one
    lookup (see :func:`livesite.net.resolve.resolve`).

    Raises:
        ProbeError: dns, connect or tls, with a message naming the address (and, for a certificate
            that failed verification, OpenSSL's ``verify_code``).
    """
    loop = asyncio.get_running_loop()
    t0 = _now()
    progress.phase = "resolve"
    ip = await resolve(target.host, overrides, resolver)
    progress.address = ip
    t1 = _now()
    progress.resolve += t1 - t0
    progress.phase = "connect"
    protocol = _Exchange(max_body_bytes, progress, limits)
    try:
        transport, _ = await loop.create_connection(lambda: protocol, ip, target.port)
    except OSError as e:
        raise ProbeError(
            FailureKind.connect, f"cannot connect to {ip}:{target.port}: {e.strerror or e}"
        ) from None
    # Up to connection_made, or the kernel's figure when that looks stretched. Either way, not up to
    # now: the wait for this coroutine's turn on a busy loop is no part of the handshake.
    progress.connect += connect_seconds(transport, t1, protocol.connected_at or _now())
    cert: bytes | None = None
    if target.scheme == "https":
        progress.phase = "tls"
        assert ssl_context is not None
        # From here, not from connection_made: the wait for this coroutine's turn is neither phase's.
        t2 = _now()
        try:
            tls_transport = await loop.start_tls(
                transport, protocol, ssl_context, server_hostname=server_name or target.host
            )
        except BaseException as e:
            # A failed (or cancelled) handshake's time is the tls phase's too, as blackbox counts it.
            progress.tls += _now() - t2
            transport.abort()  # on cancellation by the check's deadline too: never leak the socket
            protocol.release()
            if isinstance(e, ssl.SSLError):  # SSLCertVerificationError (CertificateError) included
                raise ProbeError(
                    FailureKind.tls,
                    f"TLS handshake with {target.authority} failed: {_ssl_reason(e)}",
                    verify_code=e.verify_code if isinstance(e, ssl.SSLCertVerificationError) else None,
                ) from None
            if isinstance(e, ConnectionError):
                raise ProbeError(
                    FailureKind.tls, f"the connection closed during the TLS handshake: {e}"
                ) from None
            raise
        progress.tls += _now() - t2
        if tls_transport is None:
            transport.abort()
            protocol.release()
            raise ProbeError(FailureKind.tls, "the TLS handshake did not complete")
        transport = tls_transport
        protocol.transport = tls_transport
        ssl_object = transport.get_extra_info("ssl_object")
        cert = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return Connection(transport, protocol, cert, origin=(target.scheme, target.host, target.port), address=ip)


def _ssl_reason(e: Exception) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        return e.verify_message or str(e)
    return getattr(e, "reason", None) or str(e)


def build_request(
    method: str, target: Target, headers: Sequence[tuple[str, str]], body: bytes | None, keep_alive: bool
) -> bytes:
    lines = [f"{method} {target.path} HTTP/1.1"]
    if not any(name.lower() == "host" for name, _ in headers):
        lines.append(f"Host: {target.authority}")  # a Host header of the check's own wins (vhost by IP)
    names = set()
    for name, value in headers:
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
            raise ProbeError(FailureKind.http, f"header {name!r} contains a line break")
        names.add(name.lower())
        lines.append(f"{name}: {value}")
    if "connection" not in names:
        lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    if body is not None and "content-length" not in names:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head + body if body else head


async def exchange(connection: Connection, request: bytes, progress: Progress, url: str) -> Response:
    """Send one request on an open connection and read the whole response.

    Processing runs from writing the request to the first byte's arrival, transfer from there to the
    response's end as the parser saw it: the wait for this coroutine to resume is in neither.
    """
    protocol = connection.protocol
    protocol.expect_body = not request.startswith(b"HEAD ")
    protocol.waiting = True
    progress.phase = "processing"
    sent = _now()
    connection.transport.write(request)
    try:
        await protocol.done
    finally:
        end = protocol.completed_at or _now()  # failed or cancelled: the response ends now
        first = protocol.first_byte_at or end
        progress.processing += first - sent
        progress.transfer += end - first
    body = b"".join(protocol.body)
    protocol.body = []  # the joined copy is the only one kept, even on a connection kept for reuse
    return Response(
        status=protocol.status,
        headers=protocol.headers,
        body=body,
        url=url,
        http_version=protocol.http_version,
        peer_cert_der=connection.cert,
    )
