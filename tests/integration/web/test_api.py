"""The web API over real HTTP (uvicorn on 127.0.0.1), with a real SQLite store behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from livesite.results import Result, Status
from livesite.store import BatchWriter, Store, open_store
from livesite.web.app import Sources, create_app
from livesite.web.server import WebServer


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[str, Store]]:
    store = await open_store(f"sqlite:///{tmp_path / 'r.db'}")
    web = WebServer(create_app(Sources(store=store)), "127.0.0.1:0")
    task = asyncio.create_task(web.serve())
    try:
        yield web.url, store
    finally:
        web.stop()
        await task
        await store.close()


async def _stored(store: Store, check: str = "home") -> None:
    writer = BatchWriter(store)
    for second, status in enumerate([Status.ok, Status.failed]):
        writer.put(
            Result(
                check=check,
                kind="http",
                zone="zone-a",
                started_at=datetime(2026, 11, 25, 12, 0, second, tzinfo=UTC),
                duration_seconds=0.1,
                status=status,
            )
        )
    await writer.close()


async def test_results_come_back_newest_first_with_their_reasons(api: tuple[str, Store]) -> None:
    url, store = api
    await _stored(store)
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
        wrong_method = await client.delete(f"{url}/api/results")
    assert missing.status_code == 404
    assert set(missing.json()) == {"error", "status", "hint"}
    assert invalid.status_code == 422
    assert invalid.json()["error"].startswith("query.limit")
    assert invalid.json()["status"] == 422
    assert wrong_method.status_code == 405 and wrong_method.json()["status"] == 405


async def test_uptime_of_a_check_nobody_knows_is_a_404_not_zeros(api: tuple[str, Store]) -> None:
    url, store = api
    await _stored(store)
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"{url}/api/checks/NOPE/uptime")
    assert reply.status_code == 404
    assert reply.json() == {
        "error": "no check named 'NOPE'",
        "status": 404,
        "hint": "GET /api/status lists the checks",
    }


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/checks/home/uptime", {"hours": "1e300"}),
        ("/api/checks/home/uptime", {"hours": "inf"}),
        ("/api/checks/home/uptime", {"hours": "nan"}),
        ("/api/checks/home/uptime", {"hours": "-1"}),
        ("/api/checks/home/uptime", {"hours": "soon"}),
        ("/api/results", {"limit": "100000000"}),
        ("/api/results", {"check": "x" * 5000}),
        ("/api/events", {"limit": "-5"}),
    ],
)
async def test_out_of_bounds_parameters_are_a_json_4xx_and_log_no_traceback(
    api: tuple[str, Store], path: str, params: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    url, store = api
    await _stored(store)
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"{url}{path}", params=params)
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    assert set(reply.json()) == {"error", "status", "hint"}
    assert not [r for r in caplog.records if r.exc_info], "the server logged a traceback"


async def test_the_openapi_document_lists_the_resources(api: tuple[str, Store]) -> None:
    url, _ = api
    async with httpx.AsyncClient() as client:
        spec = (await client.get(f"{url}/api/openapi.json")).json()
    assert {"/metrics", "/api/status", "/api/results", "/api/checks/{check}/uptime", "/api/events"} <= set(
        spec["paths"]
    )


async def test_the_docs_page_is_self_contained(api: tuple[str, Store]) -> None:
    url, _ = api
    async with httpx.AsyncClient() as client:
        page = await client.get(f"{url}/api/docs")
        redoc = await client.get(f"{url}/redoc")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/checks/{check}/uptime" in page.text and "/api/openapi.json" in page.text
    assert "<script" not in page.text and "http://" not in page.text and "https://" not in page.text
    assert redoc.status_code == 404  # FastAPI's own ReDoc page would load its script from a CDN


async def test_a_store_that_fails_is_a_503_in_the_error_shape(api: tuple[str, Store]) -> None:
    url, store = api
    await store.close()  # every read now fails, as in an outage
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"{url}/api/results")
    assert reply.status_code == 503
    assert reply.json()["status"] == 503 and "closed" in reply.json()["error"]


def test_the_routes_read_what_create_app_was_given_never_app_state() -> None:
    """Sources is typed; app.state is an untyped bag any module could fill or read."""
    web = Path(__file__).resolve().parents[3] / "src" / "livesite" / "web"
    for path in web.rglob("*.py"):
        text = path.read_text()
        assert "app.state." not in text and "request.app" not in text, path
