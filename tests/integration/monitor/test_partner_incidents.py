"""A partner that goes down is ONE incident with its evidence, stored, shown by the CLI and the API,
resolved when it comes back, and continued (not duplicated) by a monitor that restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from cli_runner import livesite
from livesite.config import loads
from livesite.demo import control
from livesite.demo.state import DemoState
from livesite.monitor import plan
from livesite.monitor.partners import PartnerWatch
from livesite.store import open_store
from livesite.store.incidents import incidents_of
from livesite.web.serve import serve


def _config(demo: DemoState, store: Path) -> str:
    return f"""
zones:
  - {{name: zone-a, base_url: "{demo.zone_url("zone-a")}"}}
  - {{name: zone-b, base_url: "{demo.zone_url("zone-b")}"}}
defaults: {{interval: 200ms, timeout: 2s, failure_threshold: 1, success_threshold: 1}}
store: {{url: "sqlite:///{store}"}}
partners:
  - {{name: payments, contact: ops@partner.test, open_after: 2, resolve_after: 2}}
checks:
  - {{name: partner-health, url: "{demo.partner_url}/health", partner: payments, assert: [json.mode == ok]}}
  - {{name: partner-widget, url: "{demo.partner_url}/widget.js", partner: payments, zones: [zone-a]}}
  - {{name: home, url: /}}
"""


async def _until(probe: Callable[[], Awaitable[object]], seconds: float = 15) -> object:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        found = await probe()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, "not within the deadline"
        await asyncio.sleep(0.1)


async def test_a_partner_outage_is_one_incident_with_evidence(fresh_demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    demo: DemoState = await fresh_demo()
    db = tmp_path / "r.db"
    config_file = tmp_path / "c.yaml"
    config_file.write_text(_config(demo, db))
    config = loads(config_file.read_text(), str(config_file))
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    store = await open_store(f"sqlite:///{db}")
    task = asyncio.create_task(
        serve(
            config,
            plan(config),
            store,
            stop,
            listen="127.0.0.1:0",
            on_ready=lambda _, url: ready.set_result(url),
        )
    )
    url = await ready
    async with httpx.AsyncClient(timeout=5) as client:

        async def partners() -> dict[str, object]:
            reply = await client.get(f"{url}/api/partners", params={"hours": 1})
            assert reply.status_code == 200, reply.text
            return dict(reply.json()[0])

        await _until(lambda: _has_evidence(partners))
        assert (await partners())["open_incident"] is None
        await control.set_partner_mode(demo, "down")
        summary = await _until(lambda: _open(partners))
        incident = summary["open_incident"]  # type: ignore[index]
        assert incident["contact"] == "ops@partner.test"
        assert incident["first_failure"]["status_code"] == 503
        assert (
            "/health" in incident["first_failure"]["target"]
            or "/widget.js" in incident["first_failure"]["target"]
        )
        # Both checks (three check@zone pairs) feed the one record.
        await _until(lambda: _seen_by(client, url, 3))
        cli = await asyncio.to_thread(livesite, "partners", str(config_file), "--hours", "1")
        assert cli.returncode == 1, cli.stderr
        assert "OPEN since" in cli.stdout and "payments" in cli.stdout

        await control.set_partner_mode(demo, "ok")

        async def resolved() -> list[object]:
            reply = await client.get(f"{url}/api/partners/payments/incidents")
            return [i for i in reply.json() if i["state"] == "resolved"]

        done = await _until(resolved)
        assert [i["id"] for i in done] == [incident["id"]], "the outage is one record"  # type: ignore[index]
        # Down again, then the monitor stops while the incident is open.
        await control.set_partner_mode(demo, "down")
        again = await _until(lambda: _open(partners))
    stop.set()
    await task
    await control.set_partner_mode(demo, "ok")
    reopened = await open_store(f"sqlite:///{db}")
    try:
        watch = PartnerWatch(config, incidents_of(reopened))
        await watch.seed()
        assert [i.id for i in watch.open_incidents()] == [again["open_incident"]["id"]]  # type: ignore[index]
        records = await incidents_of(reopened).incidents("payments")  # type: ignore[union-attr]
        assert len(records) == 2
    finally:
        await reopened.close()
    cli = await asyncio.to_thread(livesite, "partners", str(config_file), "--partner", "nope")
    assert cli.returncode == 2 and "no partner named 'nope'" in cli.stderr


async def _has_evidence(partners: Callable[[], Awaitable[dict[str, object]]]) -> bool:
    return int((await partners())["evidence"]) > 0  # type: ignore[call-overload]


async def _open(partners: Callable[[], Awaitable[dict[str, object]]]) -> dict[str, object] | None:
    found = await partners()
    return found if found["open_incident"] else None


async def _seen_by(client: httpx.AsyncClient, url: str, pairs: int) -> bool:
    reply = await client.get(f"{url}/api/partners/payments/incidents", params={"open_only": True})
    found = reply.json()
    return bool(found) and len(found[0]["checks"]) >= pairs
