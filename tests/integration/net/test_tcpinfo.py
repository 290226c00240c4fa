"""The kernel's TCP handshake time, read off real loopback connections."""

from __future__ import annotations

import asyncio
import socket

import pytest

from livesite.net.tcpinfo import handshake_seconds

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="TCP_INFO is Linux only"),
]


class Echo(asyncio.Protocol):
    def __init__(self) -> None:
        self.received = asyncio.get_running_loop().create_future()
        self.lost = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        if not self.received.done():
            self.received.set_result(data)


async def test_a_fresh_connection_has_a_handshake_time_and_stays_usable_after_reading_it() -> None:
    await fresh_connection()


def test_the_handshake_time_is_read_on_uvloop_too() -> None:
    uvloop = pytest.importorskip("uvloop")  # the loop livesite runs on; its transports wrap sockets
    uvloop.run(fresh_connection())


async def fresh_connection() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readexactly(4))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with server:
        protocol = Echo()
        port = server.sockets[0].getsockname()[1]
        transport, _ = await asyncio.get_running_loop().create_connection(lambda: protocol, "127.0.0.1", port)
        try:
            seconds = handshake_seconds(transport)
            assert seconds is not None and 0 < seconds < 1
            assert handshake_seconds(transport) == seconds  # reading it changes nothing
            # The descriptor is still the transport's: the read did not close it.
            transport.write(b"ping")
            assert await protocol.received == b"ping"
        finally:
            transport.close()


async def test_a_closed_transport_has_no_handshake_time() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        protocol = Echo()
        transport, _ = await asyncio.get_running_loop().create_connection(lambda: protocol, "127.0.0.1", port)
        transport.abort()
        await protocol.lost  # the loop has let go of the socket
        assert handshake_seconds(transport) is None
