"""The HTTP/1.1 client against servers on 127.0.0.1 that answer exactly the bytes a test gives them."""

from __future__ import annotations

import asyncio
import ssl
import time
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from livesite.net.errors import CERT_HAS_EXPIRED, ProbeError
from livesite.net.http1 import (
    Connection,
    Progress,
    Response,
    Target,
    build_request,
    exchange,
    open_connection,
)
from livesite.net.limits import Limits
from livesite.results import FailureKind
from livesite.testing.servers import make_pki
from livesite.testing.target import TargetServer

pytestmark = pytest.mark.integration


class Canned:
    """Servers that read a request head, send the bytes given, and stay open until the client leaves."""

    def __init__(self) -> None:
        self.servers: list[asyncio.Server] = []
        self.handlers: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []

    async def url(self, answer: bytes) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self.handlers.add(task)
            self.writers.append(writer)
            try:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(answer)
                await writer.drain()
                await reader.read()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        for writer in self.writers:
            writer.transport.abort()  # ends each handler by itself (cancelling one logs a traceback)
        await asyncio.gather(*self.handlers, return_exceptions=True)


@pytest.fixture
async def canned() -> AsyncIterator[Canned]:
    servers = Canned()
    yield servers
    await servers.close()


async def connect(url: str, limits: Limits = Limits(), max_body_bytes: int = 1_000_000) -> Connection:
    return await open_connection(
        Target.parse(url),
        progress=Progress(),
        overrides={},
        ssl_context=None,
        server_name=None,
        max_body_bytes=max_body_bytes,
        limits=limits,
    )


async def fetch(url: str, *, method: str = "GET", limits: Limits = Limits()) -> Response:
    connection = await connect(url, limits)
    try:
        request = build_request(method, Target.parse(url), [], None, keep_alive=True)
        return await exchange(connection, request, Progress(), url)
    finally:
        connection.abort()


async def failure(url: str, **options: Limits) -> ProbeError:
    with pytest.raises(ProbeError) as caught:
        await fetch(url, **options)
    return caught.value


async def test_interim_responses_are_skipped_and_the_final_one_is_returned(canned: Canned) -> None:
    answer = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Final: yes\r\n\r\nhi"
    )
    response = await fetch(await canned.url(answer))
    assert (response.status, response.body) == (200, b"hi")
    assert response.header_map() == {"content-length": "2", "x-final": "yes"}


async def test_trailers_are_read_and_counted_with_the_headers(canned: Canned) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n"
    ok = await fetch(await canned.url(head + b"X-Checksum: 1\r\n\r\n"))
    assert ok.body == b"hi" and ("X-Checksum", "1") in ok.headers
    flood = head + b"X-T: 1\r\n" * 5 + b"\r\n"
    error = await failure(await canned.url(flood), limits=Limits(max_header_count=4))
    assert (error.kind, error.message) == (FailureKind.protocol, "the response has more than 4 header lines")


async def test_custom_limits_are_honoured(canned: Canned) -> None:
    url = await canned.url(b"HTTP/1.1 200 OK\r\nX-Long: " + b"v" * 300 + b"\r\nContent-Length: 0\r\n\r\n")
    assert (await fetch(url)).status == 200
    error = await failure(url, limits=Limits(max_line_bytes=256))
    assert error.message == "a header line is longer than 256 bytes"


async def test_a_response_to_head_ends_with_its_head_even_if_a_body_follows(canned: Canned) -> None:
    url = await canned.url(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    response = await fetch(url, method="HEAD")
    assert (response.status, response.body) == (200, b"")


async def test_bytes_after_the_response_make_the_connection_unfit_for_reuse(canned: Canned) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\nX-Unasked: yes\r\n"
    url = await canned.url(answer)
    connection = await connect(url)
    request = build_request("GET", Target.parse(url), [], None, keep_alive=True)
    response = await exchange(connection, request, Progress(), url)
    assert (response.status, response.body) == (200, b"hi")
    assert response.header_map() == {"content-length": "2"}  # nothing of the unasked second answer
    assert not connection.usable
    connection.abort()


async def test_a_finished_probe_keeps_no_reference_to_its_buffers(canned: Canned) -> None:
    body = b"x" * 500_000
    url = await canned.url(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    connection = await connect(url)
    protocol = weakref.ref(connection.protocol)
    request = build_request("GET", Target.parse(url), [], None, keep_alive=False)
    response = await exchange(connection, request, Progress(), url)
    assert response.body == body
    assert connection.protocol.body == []  # the joined body is the only copy
    connection.close()
    del connection
    # The transport lets go of its protocol on the loop's next turns; no collector is needed.
    for _ in range(100):
        if protocol() is None:
            break
        await asyncio.sleep(0)
    assert protocol() is None


async def test_a_body_over_max_body_bytes_aborts_the_connection_at_once(canned: Canned) -> None:
    url = await canned.url(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100_000)
    connection = await connect(url, max_body_bytes=1000)
    request = build_request("GET", Target.parse(url), [], None, keep_alive=True)
    with pytest.raises(ProbeError) as caught:
        await exchange(connection, request, Progress(), url)
    assert caught.value.kind is FailureKind.http
    assert connection.transport.is_closing()
    assert connection.protocol.body_size <= 1000 + 256 * 1024  # at most one read past the limit


async def test_the_response_says_which_http_version_answered(canned: Canned) -> None:
    old = await fetch(await canned.url(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    assert (old.status, old.http_version) == (200, "1.0")
    current = await fetch(await canned.url(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    assert current.http_version == "1.1"


def hold_the_loop(seconds: float) -> None:
    """Another probe's work: the event loop runs nothing else for ``seconds``."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def test_transfer_ends_with_the_response_not_when_the_awaiting_coroutine_resumes(
    canned: Canned,
) -> None:
    # The loop is held for 300 ms between the response's end and the exchange resuming: a callback
    # on the response's completion added before the exchange awaits it runs first. Neither phase
    # may count it; the margin is a thousand times a loopback exchange, so no machine is too slow.
    busy_seconds = 0.3
    url = await canned.url(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    connection = await connect(url)
    progress = Progress()
    request = build_request("GET", Target.parse(url), [], None, keep_alive=False)
    sending = asyncio.ensure_future(exchange(connection, request, progress, url))
    connection.protocol.done.add_done_callback(lambda _: hold_the_loop(busy_seconds))
    t0 = time.perf_counter()
    response = await sending
    connection.close()
    assert response.body == b"ok"
    assert time.perf_counter() - t0 >= busy_seconds
    assert 0 < progress.processing < busy_seconds
    assert 0 <= progress.transfer < busy_seconds


async def test_a_failed_handshake_is_timed_in_tls_and_carries_openssls_verify_code(tmp_path: Path) -> None:
    expired = make_pki(tmp_path, days=-1)
    async with TargetServer(ssl_context=expired.server_context()) as server:
        progress = Progress()
        with pytest.raises(ProbeError) as caught:
            await open_connection(
                Target.parse(server.url("/")),
                progress=progress,
                overrides={},
                ssl_context=ssl.create_default_context(cafile=expired.ca_cert),
                server_name=None,
                max_body_bytes=1000,
            )
    assert caught.value.kind is FailureKind.tls
    assert caught.value.verify_code == CERT_HAS_EXPIRED
    assert caught.value.message.endswith("certificate has expired")
    assert progress.tls > 0
    assert progress.address == "127.0.0.1"  # known even though no connection came of it


async def test_a_handshake_with_a_server_that_speaks_no_tls_is_timed_in_tls_without_a_verify_code() -> None:
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")  # to a ClientHello
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain, "127.0.0.1", 0)
    async with server:
        progress = Progress()
        with pytest.raises(ProbeError) as caught:
            await open_connection(
                Target.parse(f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/"),
                progress=progress,
                overrides={},
                ssl_context=ssl.create_default_context(),
                server_name=None,
                max_body_bytes=1000,
            )
    assert caught.value.kind is FailureKind.tls
    assert caught.value.verify_code is None
    assert progress.tls > 0
