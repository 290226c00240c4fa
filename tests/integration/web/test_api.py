"""The web API over real HTTP (uvicorn on 127.0.0.1), with a real SQLite store behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from livesite.results import Result, Status
from livesite.store import BatchWriter, Store, open_store
from livesite.web.app import create_app
from livesite.web.server import WebServer


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[str, Store]]:
    import asyncio

    store = await open_store(f"sqlite:///{tmp_path / 'r.db'}")
    web = WebServer(create_app(None, store), "127.0.0.1:0")
    task = asyncio.create_task(web.serve())
    try:
        yield web.url, store
    finally:
        web.stop()
        await task
        await store.close()


async def test_results_come_back_newest_first_with_their_reasons(api: tuple[str, Store]) -> None:
    url, store = api
    writer = BatchWriter(store)
    for second, status in enumerate([Status.ok, Status.failed]):
        writer.put(
            Result(
                check="home",
                kind="http",
                zone="zone-a",
                started_at=datetime(2026, 11, 25, 12, 0, second, tzinfo=UTC),
                duration_seconds=0.1,
                status=status,
            )
        )
    await writer.close()
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/api/results", params={"check": "home"})
        uptime = await client.get(f"{url}/api/checks/home/uptime", params={"hours": 24 * 365 * 10})
    assert response.status_code == 200
    assert [r["status"] for r in response.json()] == ["failed", "ok"]
    assert uptime.json()["total"] == 2 and uptime.json()["ok"] == 1


async def test_every_api_error_has_the_same_json_shape(api: tuple[str, Store]) -> None:
    url, _ = api
    async with httpx.AsyncClient() as client:
        missing = await client.get(f"{url}/api/nothing-here")
        invalid = await client.get(f"{url}/api/results", params={"limit": 0})
    assert missing.status_code == 404
    assert set(missing.json()) == {"error", "status", "hint"}
    assert invalid.status_code == 422
    assert invalid.json()["error"].startswith("query.limit")
    assert invalid.json()["status"] == 422


async def test_the_openapi_document_lists_the_resources(api: tuple[str, Store]) -> None:
    url, _ = api
    async with httpx.AsyncClient() as client:
        spec = (await client.get(f"{url}/api/openapi.json")).json()
    assert {"/metrics", "/api/status", "/api/results", "/api/checks/{check}/uptime", "/api/events"} <= set(
        spec["paths"]
    )
