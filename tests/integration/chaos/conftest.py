"""Victims for chaos tests: real processes this test started, named uniquely so no other is ever chosen."""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psutil
import pytest

from livesite.chaos.leases import FaultBook
from livesite.dataplane.faultproxy import FaultProxy, bind, serve
from livesite.store import open_store
from livesite.store.leases import open_leases


@pytest.fixture
def victims() -> Iterator[Callable[[int], tuple[str, list[subprocess.Popen[bytes]]]]]:
    started: list[subprocess.Popen[bytes]] = []

    def spawn(count: int) -> tuple[str, list[subprocess.Popen[bytes]]]:
        tag = f"livesite-victim-{uuid.uuid4().hex[:10]}"
        made = [
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", tag])
            for _ in range(count)
        ]
        started.extend(made)
        return tag, made

    yield spawn
    for proc in started:
        with contextlib.suppress(psutil.Error):
            psutil.Process(proc.pid).resume()
        proc.kill()
        proc.wait(5)


@pytest.fixture
async def fault_proxy() -> AsyncIterator[str]:
    """livesite's fault proxy in this loop; its API's base URL."""
    stop = asyncio.Event()
    sock = bind("127.0.0.1:0")
    host, port = sock.getsockname()[:2]
    ready = asyncio.Event()
    task = asyncio.create_task(
        serve(FaultProxy(random.Random(3)), sock, stop, on_ready=lambda _: ready.set())
    )
    await asyncio.wait_for(ready.wait(), 10)
    yield f"http://{host}:{port}"
    stop.set()
    await asyncio.wait_for(task, 10)


@pytest.fixture
async def book(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = await open_store(f"sqlite:///{tmp_path / 'chaos.db'}")
    yield FaultBook(await open_leases(store))
    await store.close()
