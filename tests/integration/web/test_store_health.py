"""A store outage as the monitor's operator sees it: numbers on /metrics, two log lines, nothing lost.

The outage is real: `livesite monitor` writes to a real PostgreSQL through a TCP relay that the
test cuts (connections reset, new ones refused) and then restores.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from cli_runner import start_livesite
from prom_plugin import free_port

pytestmark = pytest.mark.integration


class Relay:
    """A TCP relay to a real server that can be cut (existing connections reset, new ones refused)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        self.server = None
        for pipe in list(self.pipes):
            pipe.cancel()
        await asyncio.gather(*self.pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                if sink.can_write_eof():
                    with contextlib.suppress(OSError):
                        sink.transport.abort()  # a reset, as when a server dies, not a polite close

        for task in (
            asyncio.create_task(pump(reader, up_writer)),
            asyncio.create_task(pump(up_reader, writer)),
        ):
            self.pipes.add(task)
            task.add_done_callback(self.pipes.discard)


@pytest.fixture
async def relay(fresh_postgres_url: str) -> AsyncIterator[tuple[Relay, str]]:
    parts = urlsplit(fresh_postgres_url)
    assert parts.hostname is not None and parts.port is not None
    relay = Relay(parts.hostname, parts.port)
    await relay.start()
    try:
        yield relay, fresh_postgres_url.replace(f":{parts.port}/", f":{relay.port}/")
    finally:
        if relay.server is not None:
            await relay.cut()


async def poll(check: Callable[[], Awaitable[bool]], what: str, timeout_seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        await asyncio.sleep(0.1)


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{name} is not on /metrics"
    return float(found.group(1))


async def test_a_store_outage_shows_on_metrics_logs_twice_and_loses_nothing(
    relay: tuple[Relay, str], site: str, tmp_path: Path, fresh_postgres_url: str
) -> None:
    cut, url = relay
    config = tmp_path / "checks.yaml"
    config.write_text(
        f"""
zones: [{{name: zone-a, base_url: "{site}"}}]
defaults: {{interval: 1s}}
checks:
  - {{name: health, url: /health, assert: [status == 200]}}
"""
    )
    listen = f"127.0.0.1:{free_port()}"
    proc = start_livesite(
        "monitor",
        str(config),
        "--store",
        url,
        "--listen",
        listen,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "FORCE_COLOR"},
    )
    page = ""
    try:
        async with httpx.AsyncClient(timeout=5) as client:

            async def metrics_say(condition: Callable[[str], bool]) -> bool:
                nonlocal page
                try:
                    page = (await client.get(f"http://{listen}/metrics")).text
                except httpx.HTTPError:
                    return False  # not listening yet
                return condition(page)

            await poll(
                lambda: metrics_say(lambda t: metric(t, "livesite_store_written_total") >= 1),
                "the first results are written",
            )
            assert metric(page, "livesite_store_up") == 1
            assert metric(page, "livesite_store_write_failures_total") == 0

            await cut.cut()
            await poll(
                lambda: metrics_say(
                    lambda t: (
                        metric(t, "livesite_store_up") == 0
                        and metric(t, "livesite_store_write_failures_total") >= 3
                        and metric(t, "livesite_store_backlog") >= 2
                    )
                ),
                "the outage shows, with a few retries and a growing backlog",
            )
            await cut.start()
            await poll(
                lambda: metrics_say(
                    lambda t: metric(t, "livesite_store_up") == 1 and metric(t, "livesite_store_backlog") == 0
                ),
                "the backlog is written after the store comes back",
            )
            assert metric(page, "livesite_store_dropped_total") == 0
    finally:
        proc.terminate()
        # Off the loop: the relay runs on it, and the monitor's last flush goes through the relay.
        _, stderr = await asyncio.to_thread(proc.communicate, timeout=30)
    assert proc.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert len([line for line in stderr.splitlines() if "writing results failed" in line]) == 1, stderr
    assert len([line for line in stderr.splitlines() if "writing results works again" in line]) == 1, stderr
    runs = re.search(r"stopped after (\d+) runs", stderr)
    assert runs is not None, stderr[-3000:]
    conn = await asyncpg.connect(fresh_postgres_url)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM livesite_results")
    finally:
        await conn.close()
    # Nothing lost to the outage: every run is stored, but for one cut short by the stop itself.
    assert int(runs.group(1)) - 1 <= stored <= int(runs.group(1))
