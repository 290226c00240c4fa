"""The tcp check against real listeners: nginx, the target server's hanging listener, and a closed port."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from livesite.checks import RunContext, TcpCheck, run_check
from livesite.config import Zone
from livesite.results import FailureKind, Result, Status
from livesite.testing.servers import Nginx, free_port
from livesite.testing.target import TargetServer

pytestmark = pytest.mark.integration


def tcp(address: str | None, *rules: str, **fields: Any) -> TcpCheck:
    return TcpCheck.model_validate(
        {"name": "port", "kind": "tcp", "address": address, "assert": list(rules), **fields}
    )


async def probe(spec: TcpCheck, zone: Zone | None = None) -> Result:
    return await run_check(spec, RunContext(zone=zone or Zone(name="local")))


def address_of(nginx: Nginx) -> str:
    return f"127.0.0.1:{nginx.port}"


async def test_an_open_port_connects_and_is_timed(nginx: Nginx) -> None:
    result = await probe(tcp(address_of(nginx), "connected == true", "latency.connect < 1s"))
    assert result.status is Status.ok, result.reason()
    assert result.phases.connect > 0
    assert result.target == address_of(nginx)


@pytest.mark.skipif(
    not hasattr(socket, "TCP_INFO"), reason="the kernel's handshake time is read on Linux only"
)
async def test_connect_does_not_count_time_the_event_loop_was_busy_elsewhere(nginx: Nginx) -> None:
    # Another probe's work holds the loop for 300 ms while the connection is being made. The kernel
    # measured the handshake (microseconds on loopback), so connect stays far below what the loop
    # spent elsewhere: the 300 ms margin is a thousand times the handshake, so no machine is slow
    # enough to make this flaky.
    busy_seconds = 0.3

    def hold_the_loop() -> None:
        end = time.perf_counter() + busy_seconds
        while time.perf_counter() < end:
            pass

    check = asyncio.ensure_future(probe(tcp(address_of(nginx))))
    asyncio.get_running_loop().call_soon(hold_the_loop)  # runs once the check waits for its connect
    result = await check
    assert result.status is Status.ok, result.reason()
    assert result.duration_seconds >= busy_seconds
    assert 0 < result.phases.connect < busy_seconds


async def test_a_sent_request_and_an_expected_reply_pass_against_nginx(nginx: Nginx) -> None:
    spec = tcp(
        address_of(nginx), "body contains nginx", send="HEAD / HTTP/1.0\\r\\n\\r\\n", expect=r"^HTTP/1\.1 200"
    )
    result = await probe(spec)
    assert result.status is Status.ok, result.reason()


async def test_an_unexpected_reply_fails_and_shows_what_arrived(nginx: Nginx) -> None:
    spec = tcp(address_of(nginx), send="HEAD / HTTP/1.0\\r\\n\\r\\n", expect="^SSH-2.0")
    result = await probe(spec)
    assert result.status is Status.failed
    assert result.failure is not None and result.failure.kind is FailureKind.assertion
    assert result.failure.message.startswith(
        "expected the service to send /^SSH-2.0/, received b'HTTP/1.1 200 OK"
    )


async def test_what_arrived_is_shown_on_one_bounded_line(nginx: Nginx) -> None:
    spec = tcp(address_of(nginx), send="GET /files/big.txt HTTP/1.0\\r\\n\\r\\n", expect="^SSH-2.0")
    result = await probe(spec)
    assert result.failure is not None
    assert "\n" not in result.reason() and len(result.reason()) < 500
    assert "received b'HTTP/1.1 200 OK\\r\\n" in result.failure.message  # the first 80 bytes, escaped


async def test_a_refused_connection_is_a_connect_error() -> None:
    port = free_port()
    result = await probe(tcp(f"127.0.0.1:{port}"))
    assert result.status is Status.error
    assert result.failure is not None and result.failure.kind is FailureKind.connect
    assert result.failure.message.startswith(f"cannot connect to 127.0.0.1:{port}")


async def test_a_service_that_never_greets_times_out_while_waiting(target: TargetServer) -> None:
    result = await probe(tcp(target.hang_address, expect="^220 ", timeout="200ms"))
    assert result.failure is not None and result.failure.kind is FailureKind.timeout
    assert result.failure.message == "no answer within 0.2s (stopped during processing)"


async def test_a_silent_service_is_fine_when_nothing_is_expected(target: TargetServer) -> None:
    result = await probe(tcp(target.hang_address, "connected == true"))
    assert result.status is Status.ok, result.reason()


async def test_an_unresolvable_host_is_a_dns_error() -> None:
    result = await probe(tcp("no-such-host.invalid:80"))
    assert result.failure is not None and result.failure.kind is FailureKind.dns


async def test_a_bad_port_is_a_connect_error_that_names_the_address() -> None:
    result = await probe(tcp("127.0.0.1:http"))
    assert result.failure is not None and result.failure.kind is FailureKind.connect
    assert result.failure.message.startswith(
        "address '127.0.0.1:http': the port must be a number from 1 to 65535"
    )  # the config's own wording (a spec built in Python skips the config's check)


async def test_tls_on_tcp_reports_an_untrusted_certificate_as_tls(tls_nginx: Nginx) -> None:
    result = await probe(tcp(tls_nginx.https_address, tls=True))
    assert result.failure is not None and result.failure.kind is FailureKind.tls
    assert result.failure.message.endswith("unable to get local issuer certificate")


async def test_the_address_defaults_to_the_zone_base_url(nginx: Nginx) -> None:
    zone = Zone(name="edge", base_url=nginx.url("/"))
    result = await probe(tcp(None), zone)
    assert result.status is Status.ok, result.reason()
    assert result.target == address_of(nginx)


async def test_no_address_and_no_base_url_is_a_connect_error_that_says_so() -> None:
    result = await probe(tcp(None))
    assert result.failure is not None
    assert result.failure.message == "no address given and zone 'local' has no base_url"


async def test_send_takes_utf8_text_and_crlf_escapes() -> None:
    import asyncio

    received: list[bytes] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readuntil(b"\r\n")
        received.append(line)
        writer.write(b"ok " + line)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await probe(tcp(f"127.0.0.1:{port}", send="héllo wörld\\r\\n", expect="^ok "))
    assert result.status is Status.ok, result.reason()
    assert received == ["héllo wörld\r\n".encode()]
