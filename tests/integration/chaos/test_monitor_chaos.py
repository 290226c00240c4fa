"""The monitor's side of chaos: it reverts faults a dead runner left behind as it starts, and serves the
token-protected kill switch."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import psutil

from livesite.chaos.faults import FAULTS
from livesite.chaos.leases import FaultBook
from livesite.chaos.spec import ProcessFault
from livesite.config import loads
from livesite.monitor import plan
from livesite.store import open_store
from livesite.store.leases import open_leases
from livesite.web.serve import serve

TOKEN = "halt-token-0123456789abcdef"


async def _pause(store_url: str, tag: str, ttl: float) -> None:
    store = await open_store(store_url)
    try:
        book = FaultBook(await open_leases(store))
        spec = ProcessFault(type="process", action="pause", select={"pattern": tag})  # type: ignore[arg-type]
        (target,) = await FAULTS["process"].resolve(spec)
        await book.apply("left-behind", spec, target, ttl)
    finally:
        await store.close()


def _stopped(pid: int) -> bool:
    return psutil.Process(pid).status() == psutil.STATUS_STOPPED


async def test_the_monitor_recovers_left_faults_and_serves_the_kill_switch(victims, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 's.db'}"
    old_tag, (old,) = victims(1)
    await _pause(url, old_tag, ttl=0.5)  # a runner that died: its lease runs out, the process stays frozen
    await asyncio.sleep(0.6)
    assert _stopped(old.pid)
    config = loads(f'monitor: {{halt_token: "{TOKEN}"}}\nstore: {{url: "{url}"}}\n')
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    store = await open_store(url)
    task = asyncio.create_task(
        serve(
            config, plan(config), store, stop, listen="127.0.0.1:0", on_ready=lambda _, u: ready.set_result(u)
        )
    )
    try:
        base = await asyncio.wait_for(ready, 20)
        assert not _stopped(old.pid), "reverted as the monitor started"
        tag, (victim,) = victims(1)
        await _pause(url, tag, ttl=60)
        assert _stopped(victim.pid)
        async with httpx.AsyncClient() as client:
            assert (await client.post(f"{base}/api/chaos/halt")).status_code == 401
            wrong = await client.post(f"{base}/api/chaos/halt", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 403 and _stopped(victim.pid)
            t0 = time.monotonic()
            halted = await client.post(f"{base}/api/chaos/halt", headers={"Authorization": f"Bearer {TOKEN}"})
            took = time.monotonic() - t0
        assert halted.status_code == 200 and halted.json() == {"reverted": 1, "errors": []}
        assert not _stopped(victim.pid) and took < 1.0
    finally:
        stop.set()
        await task
