"""HTTP faults through livesite's router (only for fake users), packet drop through nftables, and a
runner killed with SIGKILL whose toxic still expires at its TTL."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cli_runner import start_livesite
from livesite.chaos.leases import FaultBook
from livesite.chaos.runner import Runner
from livesite.chaos.spec import ExperimentFile
from livesite.config import loads_document
from livesite.dataplane.router import BackendSpec, Router, RouterSettings
from livesite.testing.target import TargetServer

TOKEN = "router-admin-token-0123456789"


@pytest.fixture
async def routed() -> AsyncIterator[tuple[str, TargetServer]]:
    async with TargetServer() as target:
        router = Router(
            RouterSettings(
                port=0,
                backends=(BackendSpec(name="shop", host="127.0.0.1", port=target.port, weight=1),),
                admin_token=TOKEN,
            )
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        await router.start(sock=sock)
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}", target
        finally:
            await router.stop(grace_seconds=0.5)
            sock.close()


async def test_an_http_fault_hits_only_fake_users_and_is_reverted(
    routed, book: FaultBook, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    url, _ = routed
    exp = loads_document(
        f"""
experiments:
  - name: fake-users-get-503
    method:
      - fault: {{type: http, router: "{url}", token: "{TOKEN}", status: 503,
                 match: {{header: {{X-Livesite-Synthetic: "*"}}}}}}
        duration: 1s
""",
        ExperimentFile,
    ).experiments[0]
    run = asyncio.create_task(Runner(exp, book).run())
    async with httpx.AsyncClient() as client:
        deadline = time.monotonic() + 10
        while (
            await client.get(f"{url}/status/200", headers={"X-Livesite-Synthetic": "u1"})
        ).status_code != 503:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert (await client.get(f"{url}/status/200")).status_code == 200, "real customers are spared"
        stored = await asyncio.to_thread(lambda: b"".join(f.read_bytes() for f in tmp_path.glob("chaos.db*")))
        assert b"fake-users-get-503" in stored, "the lease is in the store"
        assert TOKEN.encode() not in stored, "the router's admin token never reaches the store"
        (left,) = await book.held()
        assert "token" not in left.spec.model_fields_set  # what recover would revert with
        journal = await run
        assert journal.status == "completed" and journal.faults[0].reverted_at is not None
        assert (
            await client.get(f"{url}/status/200", headers={"X-Livesite-Synthetic": "u1"})
        ).status_code == 200
        faults = (await client.get(f"{url}/-/faults", headers={"Authorization": f"Bearer {TOKEN}"})).json()
        assert faults == {"faults": []}


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("nft") is None, reason="needs root and nftables")
async def test_packet_drop_on_a_loopback_port_is_added_and_removed(book: FaultBook) -> None:
    async with TargetServer() as target:
        exp = loads_document(
            f"experiments:\n  - name: drop\n    method: [{{fault: {{type: network, port: {target.port}}}, duration: 2s}}]\n",
            ExperimentFile,
        ).experiments[0]
        run = asyncio.create_task(Runner(exp, book).run())

        def dropped() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", target.port), timeout=0.3):
                    return False
            except OSError:
                return True

        deadline = time.monotonic() + 10
        while not await asyncio.to_thread(dropped):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        journal = await run
        assert journal.status == "completed", journal.reason
        assert not await asyncio.to_thread(dropped)
        listing = (
            await asyncio.to_thread(
                subprocess.run, ["nft", "list", "ruleset"], capture_output=True, text=True
            )
        ).stdout
        assert "livesite" not in listing, "the rule, and livesite's table with it, are gone"


async def test_a_runner_killed_with_sigkill_leaves_no_toxic_past_its_ttl(
    fault_proxy: str, tmp_path: Path
) -> None:
    async with TargetServer() as target, httpx.AsyncClient() as api:
        await api.post(f"{fault_proxy}/proxies", json={"name": "p", "upstream": f"127.0.0.1:{target.port}"})
        exp = tmp_path / "exp.yaml"
        exp.write_text(
            f"""
experiments:
  - name: slow
    method:
      - fault: {{type: proxy, api: "{fault_proxy}", proxy: p, toxic: {{type: latency, attributes: {{latency: 200}}}}}}
        duration: 3s
        ttl: 3s
"""
        )
        runner = start_livesite(
            "chaos", "run", str(exp), "--store", f"sqlite:///{tmp_path / 's.db'}", stdout=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 20
            while not (await api.get(f"{fault_proxy}/proxies/p/toxics")).json():
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            killed_at = time.monotonic()
            runner.send_signal(signal.SIGKILL)
            await asyncio.to_thread(runner.wait, 10)
            while (await api.get(f"{fault_proxy}/proxies/p/toxics")).json():
                assert time.monotonic() - killed_at < 3.5, "the toxic outlived its TTL"
                await asyncio.sleep(0.05)
        finally:
            runner.kill()
