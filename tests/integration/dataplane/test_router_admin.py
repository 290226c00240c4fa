"""The admin API as the rollout adapters drive it: auth, weights, routes, backends, stats, faults."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
import pytest

from livesite.dataplane.router import Router
from livesite.testing import FakeClock

StartRouter = Callable[..., Awaitable[Router]]
TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/-/weights"),
        ("PUT", "/-/weights"),
        ("GET", "/-/routes"),
        ("GET", "/-/backends"),
        ("GET", "/-/stats"),
        ("DELETE", "/-/stats"),
        ("GET", "/-/faults"),
        ("POST", "/-/faults"),
        ("DELETE", "/-/faults/x"),
    ],
)
async def test_the_admin_api_needs_the_token_when_one_is_set(
    start_router: StartRouter, http: httpx.AsyncClient, method: str, path: str
) -> None:
    router = await start_router(admin_token=TOKEN)
    r = await http.request(method, router.url + path, content=b"{}")
    assert r.status_code == 401 and "Bearer" in r.json()["error"] and r.json()["status"] == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="livesite-router"'
    r = await http.request(method, router.url + path, content=b"{}", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 403 and r.json() == {"error": "wrong admin token", "status": 403}
    assert r.headers["www-authenticate"] == 'Bearer realm="livesite-router", error="invalid_token"'
    assert (await http.get(router.url + "/-/weights", headers=AUTH)).status_code == 200


async def test_health_needs_no_token_and_admin_paths_never_reach_a_backend(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(admin_token=TOKEN)
    assert (await http.get(f"{router.url}/-/health")).json() == {"status": "ok"}
    r = await http.get(f"{router.url}/-/nothing", headers=AUTH)
    assert r.status_code == 404 and "no such admin path" in r.json()["error"]
    assert "x-backend" not in r.headers


async def test_weights_are_read_and_set_in_part_and_bad_ones_change_nothing(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(90, 10, admin_token=TOKEN)
    url = f"{router.url}/-/weights"
    assert (await http.get(url, headers=AUTH)).json() == {"stable": 90, "canary": 10}
    r = await http.put(url, json={"canary": 20}, headers=AUTH)
    assert r.status_code == 200 and r.json() == {"stable": 90, "canary": 20}
    for bad, words in [
        ({"ghost": 1}, "unknown backends: ghost"),
        ({"canary": -1}, "0 or more"),
        ({"canary": 10**30}, "at most 1,000,000"),
        ({"canary": 1.5}, "whole numbers"),
        ("not json", "whole numbers"),
        ({"stable": 0, "canary": 0}, "weight above 0"),
        ({"canary": "lots"}, "whole numbers"),
        ([1, 2], "whole numbers"),
    ]:
        r = await http.put(url, json=bad, headers=AUTH)
        assert r.status_code == 400 and words in r.json()["error"], (bad, r.text)
    r = await http.put(url, content=b"{nope", headers=AUTH)
    assert r.status_code == 400 and "whole numbers" in r.json()["error"]
    assert (await http.get(url, headers=AUTH)).json() == {"stable": 90, "canary": 20}


async def test_routes_and_sticky_are_read_and_replaced(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(100, 0)
    url = f"{router.url}/-/routes"
    assert (await http.get(url)).json() == {"routes": [], "sticky": None}
    doc = {
        "routes": [
            {"header": "X-Livesite-Route", "value": "canary", "backend": "canary"},
            {"cookie": "ab", "value": "b", "backend": "canary"},
        ],
        "sticky": {"header": "X-Livesite-Synthetic"},
    }
    r = await http.put(url, json=doc)
    assert r.status_code == 200 and r.json() == doc
    r = await http.get(f"{router.url}/status/200", headers={"X-Livesite-Route": "canary"})
    assert r.headers["x-version"] == "v2"
    r = await http.put(url, json={"sticky": None})  # routes left out: kept
    assert r.json() == {"routes": doc["routes"], "sticky": None}
    for bad, words in [
        ({"routes": [{"header": "X", "value": "1", "backend": "ghost"}]}, "unknown backends: ghost"),
        ({"routes": [{"value": "1", "backend": "canary"}]}, "exactly one"),
        ({"sticky": {"header": "A", "cookie": "B"}}, "exactly one"),
        ({"colour": 1}, "colour"),
    ]:
        r = await http.put(url, json=bad)
        assert r.status_code == 400 and words in r.json()["error"], (bad, r.text)


async def test_backends_show_health_and_a_generation_bumped_by_every_change(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(90, 10)
    first = (await http.get(f"{router.url}/-/backends")).json()
    assert [(b["name"], b["weight"], b["healthy"], b["draining"]) for b in first["backends"]] == [
        ("stable", 90, True, False),
        ("canary", 10, True, False),
    ]
    assert first["backends"][1]["url"].startswith("http://127.0.0.1:")
    await http.put(f"{router.url}/-/weights", json={"canary": 30})
    second = (await http.get(f"{router.url}/-/backends")).json()
    assert second["generation"] > first["generation"]
    assert second["backends"][1]["weight"] == 30
    await http.put(f"{router.url}/-/routes", json={"routes": []})
    assert (await http.get(f"{router.url}/-/backends")).json()["generation"] > second["generation"]


async def test_deleting_stats_starts_them_afresh(start_router: StartRouter, http: httpx.AsyncClient) -> None:
    router = await start_router(1, 1)
    for _ in range(4):
        await http.get(f"{router.url}/status/200")
    before = time.time()
    r = await http.delete(f"{router.url}/-/stats")
    assert all(b["requests"] == 0 for b in r.json()["backends"].values())
    assert r.json()["since"] >= before - 0.01


async def test_a_status_fault_hits_its_share_of_matching_requests_only(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(1, 1)
    fault = {
        "action": "status",
        "status": 503,
        "share": 0.5,
        "match": {"path_prefix": "/json"},
        "ttl_seconds": 60,
    }
    r = await http.post(f"{router.url}/-/faults", json=fault)
    assert r.status_code == 201
    made = r.json()
    assert made["id"] and made["expires_at"] == pytest.approx(time.time() + 60, abs=5)
    statuses = Counter([(await http.get(f"{router.url}/json")).status_code for _ in range(20)])
    assert statuses == {200: 10, 503: 10}
    assert Counter([(await http.get(f"{router.url}/status/200")).status_code for _ in range(10)]) == {200: 10}
    stats = (await http.get(f"{router.url}/-/stats")).json()["backends"]
    assert sum(b["faults"] for b in stats.values()) == 10
    assert sum(b["status"]["5xx"] for b in stats.values()) == 10
    listed = (await http.get(f"{router.url}/-/faults")).json()["faults"]
    assert [(f["id"], f["applied"], f["matched"]) for f in listed] == [(made["id"], 10, 20)]
    assert (await http.delete(f"{router.url}/-/faults/{made['id']}")).status_code == 200
    assert (await http.delete(f"{router.url}/-/faults/{made['id']}")).status_code == 404
    assert (await http.get(f"{router.url}/json")).status_code == 200


async def test_a_fault_can_target_one_backend_by_header(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(1, 1)
    fault = {
        "action": "status",
        "status": 500,
        "match": {"backend": "canary", "header": {"X-Chaos": "*"}},
        "ttl_seconds": 60,
    }
    assert (await http.post(f"{router.url}/-/faults", json=fault)).status_code == 201
    got = Counter()
    for _ in range(10):
        r = await http.get(f"{router.url}/status/200", headers={"X-Chaos": "1"})
        got[(r.headers.get("x-version"), r.status_code)] += 1
    assert got == {("v1", 200): 5, (None, 500): 5}


async def test_an_abort_fault_drops_the_connection_and_a_delay_fault_delays(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(1, 0)
    await http.post(
        f"{router.url}/-/faults",
        json={"id": "cut", "action": "abort", "match": {"path_prefix": "/cut"}, "ttl_seconds": 60},
    )
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get(f"{router.url}/cut")
    await http.post(
        f"{router.url}/-/faults",
        json={"action": "delay", "delay_ms": 300, "match": {"path_prefix": "/slow"}, "ttl_seconds": 60},
    )
    started = time.monotonic()
    r = await http.get(f"{router.url}/slow")
    assert r.status_code == 404 and r.headers["x-version"] == "v1"  # delayed, then answered by the backend
    assert time.monotonic() - started >= 0.3


async def test_faults_expire_by_themselves_at_their_ttl(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    clock = FakeClock()
    router = await start_router(1, 0, clock=clock)
    await http.post(f"{router.url}/-/faults", json={"action": "status", "status": 503, "ttl_seconds": 30})
    assert (await http.get(f"{router.url}/status/200")).status_code == 503
    clock.advance(29)
    assert (await http.get(f"{router.url}/status/200")).status_code == 503
    clock.advance(2)
    assert (await http.get(f"{router.url}/status/200")).status_code == 200
    assert (await http.get(f"{router.url}/-/faults")).json() == {"faults": []}


async def test_a_fault_with_real_time_expires_without_any_traffic(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(1, 0)
    r = await http.post(f"{router.url}/-/faults", json={"action": "status", "ttl_seconds": 0.2})
    generation = (await http.get(f"{router.url}/-/backends")).json()["generation"]
    deadline = time.monotonic() + 5
    while (await http.get(f"{router.url}/-/backends")).json()[
        "generation"
    ] == generation:  # the sweep removed it
        assert time.monotonic() < deadline, r.json()
        await asyncio.sleep(0.05)
    assert (await http.get(f"{router.url}/status/200")).status_code == 200


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"action": "status"}, "ttl_seconds"),
        ({"action": "status", "ttl_seconds": 5, "match": {"backend": "ghost"}}, "unknown backend"),
        ({"action": "delay", "ttl_seconds": 5}, "delay_ms"),
        ({"action": "status", "ttl_seconds": 5, "share": 2}, "share"),
    ],
)
async def test_a_bad_fault_is_refused_and_nothing_is_injected(
    start_router: StartRouter, http: httpx.AsyncClient, fault: dict[str, object], words: str
) -> None:
    router = await start_router(1, 0)
    r = await http.post(f"{router.url}/-/faults", json=fault)
    assert r.status_code == 400 and words in r.json()["error"]
    assert (await http.get(f"{router.url}/-/faults")).json() == {"faults": []}
