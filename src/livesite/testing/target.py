"""A target server with faults you control, for testing checks against a real socket on 127.0.0.1.

It speaks just enough HTTP/1.1 (by hand, on asyncio streams) to misbehave on purpose: answer late,
drip the body, close in the middle, send garbage, or accept a connection and never answer. It runs
in the test's own event loop::

    async with TargetServer() as target:
        url = target.url("/status/503")      # http://127.0.0.1:PORT/status/503
        address = target.hang_address        # a listener that accepts and never answers

Routes (query parameters in brackets):

    /status/CODE [body=, h=Name:Value ...]   a fixed status, body and headers
    /json                                    a small JSON document (items, ok, price)
    /delay [ms=]                             wait before sending the headers
    /drip [chunks=, ms=]                     send the body one byte per chunk, ms apart
    /close-mid                               promise 100 bytes, send 10, close
    /redirect/N                              302 → /redirect/N-1 … → /redirect/0 (200)
    /loop/a, /loop/b                         302 to each other, forever
    /bytes [n=]                              n bytes of 'x' (Content-Length)
    /binary                                  bytes 0..255, application/octet-stream
    /chunked [chunks=]                       Transfer-Encoding: chunked
    /close-delimited                         no Content-Length: the body ends at close
    /echo                                    method, path, headers and body as JSON
    /auth/basic, /auth/bearer                401 unless the credentials match; else echo
    /cookie                                  Set-Cookie: session=...
    /cache                                   Age and X-Cache headers
    /garbage                                 bytes that are not an HTTP response

and the hostile routes of :mod:`livesite.testing.hostile` (a header flood, an endless header value,
slowloris, broken chunking, impossible Content-Lengths, a gzip bomb, a body without end, ...).

Every response carries ``X-Version: <version>`` when ``version`` is set. :meth:`TargetServer.respond`
adds a fixed route at run time. With ``ssl_context`` (see ``livesite.testing.servers.make_pki``) it
serves https. ``received`` and ``connections`` record what arrived, for assertions on the server side.

A test that drives a separate process (``livesite check`` or ``livesite monitor``) runs the server on
a thread of its own instead, so the test itself may block::

    with TargetServer().in_thread() as target:
        subprocess.run([..., target.url("/header-flood")])
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from livesite.testing import hostile

_MAX_HEAD_BYTES = 64 * 1024
_REASONS = {
    200: "OK",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    401: "Unauthorized",
    404: "Not Found",
    418: "I'm a teapot",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
JSON_DOC = {"ok": True, "items": [{"id": 1, "price": 12.5}, {"id": 2, "price": 3}], "name": "shop"}


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the server saw it. Header names are lower case."""

    method: str
    path: str
    query: dict[str, str]  # the last value of each parameter
    query_string: str
    headers: dict[str, str]
    body: bytes
    connection: int  # the number of the connection it arrived on (1, 2, ...)
    at: float = 0.0  # time.monotonic() when it had arrived whole


@dataclass(frozen=True, slots=True)
class Canned:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


_Send = Callable[[int, bytes, "Mapping[str, str] | None"], None]


class _Close(Exception):
    """The route closed (or wrecked) the connection on purpose."""


class TargetServer:
    """An HTTP server on 127.0.0.1 whose routes misbehave on request, plus a listener that hangs.

    Use it as ``async with TargetServer() as target``; both listeners are closed on exit, and any
    connection still open (a hanging one, a dripping one) is aborted.
    """

    def __init__(
        self,
        *,
        basic_auth: tuple[str, str] = ("alice", "open-sesame-42"),
        bearer_token: str = "tok-0123456789abcdef",
        version: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.basic_auth = basic_auth
        self.bearer_token = bearer_token
        self.version = version
        self.ssl_context = ssl_context  # serve https (the hang listener stays plain TCP)
        self.received: list[Received] = []
        self.connections = 0  # connections accepted by the HTTP listener
        self._canned: dict[str, Canned] = {}
        self._server: asyncio.Server | None = None
        self._hang: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._closing = asyncio.Event()
        self.port = 0
        self.hang_port = 0

    # ------------------------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> TargetServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self._hang = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self.hang_port = self._hang.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for server in (self._server, self._hang):
            if server is not None:
                server.close()
        # Wake every handler (a delay, a drip, a hang) and let it finish by itself: cancelling a
        # stream handler makes Python 3.11's asyncio log a spurious traceback.
        self._closing.set()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        for server in (self._server, self._hang):
            if server is not None:
                await server.wait_closed()

    # ------------------------------------------------------------------------------------ addresses

    def url(self, path: str = "/", *, host: str = "127.0.0.1") -> str:
        """An absolute URL on this server, e.g. ``url("/status/200")``."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def hang_address(self) -> str:
        """host:port of a listener that accepts connections and never sends a byte."""
        return f"127.0.0.1:{self.hang_port}"

    def hang_url(self, path: str = "/", *, scheme: str = "http") -> str:
        """A URL on the hanging listener; with ``scheme="https"`` the TLS handshake stalls."""
        return f"{scheme}://127.0.0.1:{self.hang_port}{path}"

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[TargetServer]:
        """Serve from an event loop on a thread of its own for the duration of the block.

        For tests that block (on a subprocess, on a synchronous client) and for measuring a client's
        deadlines without the server's work on the same loop.
        """
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []
        stop = asyncio.Event()

        async def serve() -> None:
            try:
                await self.__aenter__()
            except BaseException as e:
                failure.append(e)
                started.set()
                return
            started.set()
            try:
                await stop.wait()
            finally:
                await self.__aexit__(None, None, None)

        thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
        thread.start()
        started.wait()
        try:
            if failure:
                raise failure[0]
            yield self
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(timeout=10)
            if not thread.is_alive():
                loop.close()

    def respond(
        self, path: str, status: int = 200, body: bytes | str = b"", headers: Mapping[str, str] | None = None
    ) -> None:
        """Serve a fixed response at ``path`` (exact match, before the built-in routes)."""
        data = body.encode() if isinstance(body, str) else body
        self._canned[path] = Canned(status, data, dict(headers or {}))

    # ------------------------------------------------------------------------------------ serving

    def _track(self, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    @property
    def closing(self) -> bool:
        """The server is shutting down: a route that streams should stop."""
        return self._closing.is_set()

    async def pause(self, seconds: float) -> None:
        await self._pause(seconds)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but stop at once (closing the connection) when the server shuts down."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._closing.wait()
        if self._closing.is_set():
            raise _Close

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track(writer)
        try:
            while await reader.read(4096):
                pass  # swallow whatever the client sends, answer nothing
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self._track(writer)
        try:
            while True:
                request = await _read_request(reader, number)
                if request is None:
                    break
                self.received.append(request)
                keep_alive = request.headers.get("connection", "").lower() != "close"
                await self._route(request, writer, keep_alive)
                await writer.drain()
                if not keep_alive:
                    break
        except (_Close, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _route(self, req: Received, w: asyncio.StreamWriter, keep_alive: bool) -> None:
        path, q = req.path, req.query

        def send(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
            w.write(self._head(status, {"Content-Length": str(len(body)), **(headers or {})}, keep_alive))
            if req.method != "HEAD":
                w.write(body)

        if path in self._canned:
            c = self._canned[path]
            send(c.status, c.body, c.headers)
        elif path.startswith("/status/"):
            extra = dict(h.split(":", 1) for h in _all(req, "h") if ":" in h)
            send(int(path.removeprefix("/status/")), q.get("body", "").encode(), extra)
        elif path == "/json":
            send(200, json.dumps(JSON_DOC).encode(), {"Content-Type": "application/json"})
        elif path == "/delay":
            await self._pause(int(q.get("ms", "1000")) / 1000)
            send(200, b"late but here")
        elif path == "/drip":
            chunks, pause = int(q.get("chunks", "5")), int(q.get("ms", "100")) / 1000
            w.write(self._head(200, {"Content-Length": str(chunks)}, keep_alive))
            for _ in range(chunks):
                await w.drain()
                await self._pause(pause)
                w.write(b"x")
        elif path == "/close-mid":
            w.write(self._head(200, {"Content-Length": "100"}, keep_alive) + b"0123456789")
            await w.drain()
            raise _Close
        elif path.startswith("/redirect/"):
            n = int(path.removeprefix("/redirect/"))
            if n <= 0:
                send(200, b"arrived")
            else:
                send(302, b"", {"Location": f"/redirect/{n - 1}"})
        elif path in ("/loop/a", "/loop/b"):
            send(302, b"", {"Location": "/loop/b" if path == "/loop/a" else "/loop/a"})
        elif path == "/bytes":
            n = int(q.get("n", "1024"))
            w.write(self._head(200, {"Content-Length": str(n)}, keep_alive))
            block = b"x" * 65536
            while n > 0:
                w.write(block[: min(n, len(block))])
                n -= len(block)
                await w.drain()
        elif path == "/binary":
            send(200, bytes(range(256)), {"Content-Type": "application/octet-stream"})
        elif path == "/chunked":
            w.write(self._head(200, {"Transfer-Encoding": "chunked"}, keep_alive))
            for i in range(int(q.get("chunks", "3"))):
                part = f"chunk {i};".encode()
                w.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                await w.drain()
            w.write(b"0\r\n\r\n")
        elif path == "/close-delimited":
            w.write(self._head(200, {}, keep_alive=False) + b"until the connection closes")
            await w.drain()
            raise _Close
        elif path == "/echo":
            send(200, _echo(req), {"Content-Type": "application/json"})
        elif path == "/auth/basic":
            user, password = self.basic_auth
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            self._guarded(req, send, expected, 'Basic realm="target"')
        elif path == "/auth/bearer":
            self._guarded(req, send, f"Bearer {self.bearer_token}", 'Bearer realm="target"')
        elif path == "/cookie":
            send(200, b"cookie set", {"Set-Cookie": "session=s3ss10n-v4lue; Path=/; HttpOnly"})
        elif path == "/cache":
            send(200, b"cached", {"Age": q.get("age", "42"), "X-Cache": q.get("x_cache", "HIT")})
        elif path in hostile.ROUTES:
            await hostile.ROUTES[path](q, w, self)
            raise _Close
        elif path == "/garbage":
            w.write(b"SPDY/9 what is this\r\n\x00\x01\x02 garbage\r\n\r\n")
            await w.drain()
            raise _Close
        else:
            send(404, f"no route {path}".encode())

    def _guarded(self, req: Received, send: _Send, expected: str, challenge: str) -> None:
        if req.headers.get("authorization") == expected:
            send(200, _echo(req), {"Content-Type": "application/json"})
        else:
            send(401, b"who are you?", {"WWW-Authenticate": challenge})

    def _head(self, status: int, headers: Mapping[str, str], keep_alive: bool) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Whatever')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if self.version is not None:
            lines.append(f"X-Version: {self.version}")
        lines.append("Connection: " + ("keep-alive" if keep_alive else "close"))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _all(req: Received, name: str) -> list[str]:
    return [v for k, v in parse_qsl(req.query_string, keep_blank_values=True) if k == name]


def _echo(req: Received) -> bytes:
    try:
        text: str | None = req.body.decode()
    except UnicodeDecodeError:
        text = None
    doc = {
        "method": req.method,
        "path": req.path,
        "query": req.query,
        "headers": req.headers,
        "body": text,
        "body_base64": base64.b64encode(req.body).decode(),
    }
    return json.dumps(doc).encode()


async def _read_request(reader: asyncio.StreamReader, connection: int) -> Received | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if e.partial.strip():
            raise ValueError("truncated request") from None
        return None
    except asyncio.LimitOverrunError:
        raise ValueError("request head too large") from None
    if len(head) > _MAX_HEAD_BYTES:
        raise ValueError("request head too large")
    line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _version = line.split(" ", 2)
    headers: dict[str, str] = {}
    for h in header_lines:
        if h:
            name, _, value = h.partition(":")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    parts = urlsplit(target)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return Received(method, parts.path, query, parts.query, headers, body, connection, time.monotonic())


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            with contextlib.suppress(asyncio.IncompleteReadError):
                await reader.readuntil(b"\r\n")
            return bytes(out)
        out += await reader.readexactly(size)
        await reader.readexactly(2)
