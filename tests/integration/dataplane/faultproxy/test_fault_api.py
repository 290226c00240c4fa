"""The Toxiproxy-compatible API: paths, JSON and status codes as Toxiproxy answers, hostile input
refused with its error shape, and toxics that expire by their TTL."""

from __future__ import annotations

import asyncio
import json

import pytest
from faultkit import Fault, connect, round_trip
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration


async def test_a_proxy_is_created_shown_listed_and_deleted_as_toxiproxy_does(fault: Fault, echo) -> None:
    created = await fault.api.post("/proxies", json={"name": "db", "upstream": echo.address})
    assert created.status_code == 201
    body = created.json()
    assert body == {
        "name": "db",
        "listen": body["listen"],
        "upstream": echo.address,
        "enabled": True,
        "toxics": [],
    }
    assert body["listen"].startswith("127.0.0.1:") and not body["listen"].endswith(":0")
    assert (await fault.api.get("/proxies/db")).json() == body
    assert (await fault.api.get("/proxies")).json() == {"db": body}
    assert (await fault.api.delete("/proxies/db")).status_code == 204
    assert (await fault.api.get("/proxies")).json() == {}


async def test_toxics_are_created_listed_updated_and_deleted_as_toxiproxy_does(fault: Fault, echo) -> None:
    await fault.proxy(echo.address)
    created = await fault.api.post(
        "/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": 100}}
    )
    assert created.status_code == 200  # Toxiproxy answers 200 here, not 201
    toxic = {
        "attributes": {"latency": 100, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1,
    }
    assert created.json() == toxic
    assert (await fault.api.get("/proxies/p/toxics")).json() == [toxic]
    assert (await fault.api.get("/proxies/p/toxics/latency_downstream")).json() == toxic
    assert (await fault.api.get("/proxies/p")).json()["toxics"] == [toxic]
    updated = await fault.api.post(
        "/proxies/p/toxics/latency_downstream", json={"attributes": {"jitter": 5}, "toxicity": 0.5}
    )
    assert updated.status_code == 200
    assert updated.json()["attributes"] == {"latency": 100, "jitter": 5}  # merged, as Go decodes into it
    assert updated.json()["toxicity"] == 0.5
    patched = await fault.api.patch(
        "/proxies/p/toxics/latency_downstream", json={"attributes": {"latency": 7}}
    )
    assert patched.json()["attributes"] == {"latency": 7, "jitter": 5} and patched.json()["toxicity"] == 0.5
    assert (await fault.api.delete("/proxies/p/toxics/latency_downstream")).status_code == 204
    assert (await fault.api.get("/proxies/p/toxics")).json() == []


async def test_upstream_toxics_are_listed_before_downstream_ones(fault: Fault, echo) -> None:
    await fault.proxy(echo.address)
    await fault.toxic(type="latency", name="d")
    await fault.toxic(type="latency", name="u", stream="upstream")
    assert [t["name"] for t in (await fault.api.get("/proxies/p/toxics")).json()] == ["u", "d"]


async def test_reset_enables_every_proxy_and_removes_every_toxic(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    await fault.toxic(type="timeout", attributes={"timeout": 0})
    await fault.api.post("/proxies/p", json={"enabled": False})
    assert (await fault.api.post("/reset")).status_code == 204
    shown = (await fault.api.get("/proxies/p")).json()
    assert shown["enabled"] is True and shown["toxics"] == []
    reader, writer = await connect(address)
    await round_trip(reader, writer, b"ok")
    writer.close()


async def test_populate_creates_keeps_the_same_and_replaces_what_differs(fault: Fault, echo) -> None:
    answer = await fault.api.post(
        "/populate", json=[{"name": "a", "upstream": echo.address, "listen": "127.0.0.1:0"}]
    )
    assert answer.status_code == 201
    [a] = answer.json()["proxies"]
    await fault.toxic(proxy="a", type="latency")
    same = [
        {"name": "a", "upstream": echo.address, "listen": a["listen"]},
        {"name": "b", "upstream": echo.address},
    ]
    answer = await fault.api.post("/populate", json=same)
    assert answer.status_code == 201
    kept, b = answer.json()["proxies"]
    assert kept["listen"] == a["listen"] and len(kept["toxics"]) == 1  # unchanged: kept with its toxic
    assert b["name"] == "b" and b["enabled"] is True
    moved = await fault.api.post("/populate", json=[{"name": "a", "upstream": "127.0.0.1:1"}])
    assert moved.json()["proxies"][0]["toxics"] == []  # replaced


async def test_version_answers_like_toxiproxy(fault: Fault) -> None:
    answer = await fault.api.get("/version")
    assert answer.status_code == 200
    assert set(answer.json()) == {"version"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/proxies/nope", None, 404, "proxy not found"),
        ("DELETE", "/proxies/nope", None, 404, "proxy not found"),
        ("POST", "/proxies/nope/toxics", {"type": "latency"}, 404, "proxy not found"),
        ("GET", "/proxies/p/toxics/nope", None, 404, "toxic not found"),
        ("DELETE", "/proxies/p/toxics/nope", None, 404, "toxic not found"),
        ("POST", "/proxies", {"upstream": "127.0.0.1:1"}, 400, "missing required field: name"),
        ("POST", "/proxies", {"name": "x"}, 400, "missing required field: upstream"),
        ("POST", "/proxies", {"name": "p", "upstream": "127.0.0.1:1"}, 409, "proxy already exists"),
        ("POST", "/proxies/p/toxics", {"type": "nope"}, 400, "invalid toxic type"),
        ("POST", "/proxies/p/toxics", {}, 400, "invalid toxic type"),
        ("POST", "/proxies/p/toxics", {"type": "latency", "stream": "sideways"}, 400, "stream was invalid"),
        ("POST", "/proxies/p/toxics", {"type": "latency", "name": "old"}, 409, "toxic already exists"),
        ("POST", "/populate", [{"upstream": "127.0.0.1:1"}], 400, "missing required field: name at proxy 1"),
    ],
)
async def test_errors_have_toxiproxys_status_and_message(
    fault: Fault, echo, method: str, path: str, body: object, status: int, error: str
) -> None:
    await fault.proxy(echo.address)
    await fault.toxic(type="latency", name="old")
    answer = await fault.api.request(method, path, json=body)
    assert answer.status_code == status
    assert answer.json()["status"] == status
    assert answer.json()["error"].startswith(error)


HOSTILE = [
    b"",
    b"{",
    b"[1, 2",
    b'"a string"',
    b"NaN",
    b'{"name": 5, "upstream": "127.0.0.1:1"}',
    b'{"name": "x", "upstream": "no-port"}',
    b'{"name": "x", "upstream": "127.0.0.1:1", "enabled": "yes"}',
    b"[" * 100_000,
]
HOSTILE_TOXICS = [
    {"type": "latency", "attributes": {"latency": -1}},
    {"type": "latency", "attributes": {"latency": "100"}},
    {"type": "latency", "attributes": {"latency": 1.5}},
    {"type": "latency", "attributes": {"latency": 10**30}},
    {"type": "latency", "attributes": {"latnecy": 100}},
    {"type": "latency", "attributes": []},
    {"type": "latency", "toxicity": 1.5},
    {"type": "latency", "toxicity": -0.1},
    {"type": "latency", "toxicity": "1"},
    {"type": "bandwidth", "attributes": {"rate": -5}},
    {"type": "slicer", "attributes": {"average_size": 0}},
    {"type": "limit_data", "attributes": {"bytes": True}},
    {"type": "latency", "ttl": -1},
    {"type": "latency", "ttl": 0},
    {"type": "latency", "ttl": "forever"},
    {"type": "latency", "attributes": {"ttl": "1y"}},
    {"type": "latency", "name": "n" * 10_000},
]


async def test_hostile_bodies_get_a_400_and_break_nothing(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    for raw in HOSTILE:
        answer = await fault.api.post("/proxies", content=raw)
        assert answer.status_code == 400, (raw[:40], answer.text)
        assert answer.json()["error"].startswith("bad request body") and answer.json()["status"] == 400
    for toxic in HOSTILE_TOXICS:
        answer = await fault.api.post("/proxies/p/toxics", json=toxic)
        assert answer.status_code == 400, (toxic, answer.text)
        assert answer.json()["error"].startswith("bad request body")
    answer = await fault.api.post(
        "/proxies/p/toxics", content=json.dumps({"type": "latency", "x": "y" * 2_000_000})
    )
    assert answer.status_code == 413
    assert (await fault.api.get("/proxies")).json().keys() == {"p"}
    assert (await fault.api.get("/proxies/p/toxics")).json() == []
    reader, writer = await connect(address)
    await round_trip(reader, writer, b"still fine")
    writer.close()


async def test_a_browser_is_refused_as_toxiproxy_refuses_it(fault: Fault) -> None:
    answer = await fault.api.post("/reset", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    assert answer.status_code == 403


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
toxic_bodies = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(
            ["latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"]
        )
        | st.text(max_size=8),
        "stream": st.sampled_from(["upstream", "downstream"]) | json_values,
        "toxicity": json_values,
        "name": st.text(max_size=12),
        "ttl": json_values,
        "attributes": st.dictionaries(
            st.sampled_from(
                ["latency", "jitter", "rate", "delay", "timeout", "bytes", "average_size", "ttl", "x"]
            ),
            json_values,
            max_size=4,
        ),
    },
)


async def test_fuzzed_toxics_are_accepted_or_refused_never_a_server_error(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    loop = asyncio.get_running_loop()
    seen: list[int] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(toxic_bodies)
    def one(body: dict[str, object]) -> None:
        async def post() -> int:
            answer = await fault.api.post("/proxies/p/toxics", json=body)
            if answer.status_code == 200:
                await fault.api.delete(f"/proxies/p/toxics/{answer.json()['name']}")
            return answer.status_code

        seen.append(asyncio.run_coroutine_threadsafe(post(), loop).result(10))

    await asyncio.to_thread(one)
    assert set(seen) <= {200, 400, 409} and 400 in seen and 200 in seen
    reader, writer = await connect(address)
    await round_trip(reader, writer, b"alive")
    writer.close()


async def _poll_gone(fault: Fault, path: str, seconds: float) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while (await fault.api.get(path)).status_code == 200:
        assert loop.time() - start < seconds, f"{path} outlived its TTL"
        await asyncio.sleep(0.02)
    return loop.time() - start


async def test_a_toxic_with_a_ttl_removes_itself_and_stops_hurting(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    created = await fault.toxic(type="latency", attributes={"latency": 1000}, ttl=1.5)
    assert created["ttl"] == 1.5 and 0 < created["expires_in"] <= 1.5  # type: ignore[operator]
    reader, writer = await connect(address)
    assert await round_trip(reader, writer, b"slow") >= 0.99
    await _poll_gone(fault, "/proxies/p/toxics/latency_downstream", 10)
    assert await round_trip(reader, writer, b"fast") < 0.9
    writer.close()


async def test_a_ttl_in_the_attributes_works_for_clients_that_only_send_attributes(
    fault: Fault, echo
) -> None:
    await fault.proxy(echo.address)
    created = await fault.toxic(type="timeout", attributes={"timeout": 0, "ttl": "300ms"})
    assert created["attributes"] == {"timeout": 0} and created["ttl"] == 0.3
    await _poll_gone(fault, "/proxies/p/toxics/timeout_downstream", 5)


async def test_updating_a_toxic_with_a_ttl_renews_it(fault: Fault, echo) -> None:
    await fault.proxy(echo.address)
    await fault.toxic(type="latency", ttl=0.3)
    await fault.api.post("/proxies/p/toxics/latency_downstream", json={"ttl": 60})
    await asyncio.sleep(0.6)  # past the first TTL: what is checked is that it did NOT expire
    assert (await fault.api.get("/proxies/p/toxics/latency_downstream")).json()["ttl"] == 60


async def test_the_default_ttl_applies_to_toxics_created_without_one(fault: Fault, echo) -> None:
    fault.service.default_ttl_seconds = 0.3
    await fault.proxy(echo.address)
    created = await fault.toxic(type="latency")
    assert created["ttl"] == 0.3
    await _poll_gone(fault, "/proxies/p/toxics/latency_downstream", 5)
