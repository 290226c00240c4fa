"""A fault proxy and its API in the test's event loop, with real backends on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import uvloop
from faultkit import Backend, Fault, start_backend

from livesite.dataplane.faultproxy import FaultProxy, bind, serve


@pytest.fixture
async def echo() -> AsyncIterator[Backend]:
    backend = await start_backend()
    yield backend
    backend.server.close()


@pytest.fixture
async def fault() -> AsyncIterator[Fault]:
    service = FaultProxy(random.Random(7))
    stop = asyncio.Event()
    sock = bind("127.0.0.1:0")
    host, port = sock.getsockname()[:2]
    ready = asyncio.Event()
    task = asyncio.create_task(serve(service, sock, stop, on_ready=lambda _: ready.set()))
    await asyncio.wait_for(ready.wait(), 10)
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=10) as api:
        yield Fault(service, api)
    stop.set()
    await asyncio.wait_for(task, 10)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The toxics run on uvloop in production (`livesite chaos proxy`) and on asyncio's loop in a
    library user's program: each toxic test runs on both."""
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
    if item.path.name == "test_fault_toxics.py":
        factories["uvloop"] = uvloop.new_event_loop
    return factories
