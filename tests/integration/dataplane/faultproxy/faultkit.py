"""Helpers for the fault proxy tests: real backends on 127.0.0.1, clients, polling with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from livesite.dataplane.faultproxy import FaultProxy

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@dataclass
class Backend:
    server: asyncio.Server

    @property
    def address(self) -> str:
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"


async def start_backend(handler: Handler = _echo) -> Backend:
    return Backend(await asyncio.start_server(handler, "127.0.0.1", 0))


@dataclass
class Fault:
    service: FaultProxy
    api: httpx.AsyncClient

    async def proxy(self, upstream: str, name: str = "p") -> tuple[str, int]:
        """A proxy to ``upstream``; where to connect to it."""
        answer = await self.api.post("/proxies", json={"name": name, "upstream": upstream})
        assert answer.status_code == 201, answer.text
        host, port = answer.json()["listen"].rsplit(":", 1)
        return host, int(port)

    async def toxic(self, proxy: str = "p", **body: object) -> dict[str, object]:
        answer = await self.api.post(f"/proxies/{proxy}/toxics", json=body)
        assert answer.status_code == 200, answer.text
        found: dict[str, object] = answer.json()
        return found


async def connect(address: tuple[str, int]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*address)


async def round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> float:
    """Seconds from sending ``data`` to its echo arriving whole."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    writer.write(data)
    got = await asyncio.wait_for(reader.readexactly(len(data)), 10)
    assert got == data
    return loop.time() - start


async def until(predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait until ``predicate()`` holds, polling, or fail at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        assert loop.time() < deadline, "deadline passed"
        await asyncio.sleep(0.01)
