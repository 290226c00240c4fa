"""Real traffic through the router to real backends: the split, sticky users, routes, stats, failover,
and HTTP/1.1 forwarded faithfully (bodies, hop-by-hop headers, HEAD, pipelining, pooled connections)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
import pytest

from livesite.dataplane.router import HealthCheck, Route, Router, Sticky
from livesite.testing import TargetServer

StartRouter = Callable[..., Awaitable[Router]]

pytestmark = pytest.mark.integration


async def _versions(http: httpx.AsyncClient, url: str, n: int, **kw: object) -> Counter[str]:
    seen: Counter[str] = Counter()
    for _ in range(n):
        r = await http.get(url, **kw)  # type: ignore[arg-type]
        assert r.status_code == 200, r.text
        seen[r.headers["x-version"]] += 1
    return seen


async def test_requests_split_exactly_by_weight(start_router: StartRouter, http: httpx.AsyncClient) -> None:
    router = await start_router(90, 10)
    assert await _versions(http, f"{router.url}/status/200", 100) == {"v1": 90, "v2": 10}


async def test_a_backend_with_weight_0_gets_nothing(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(0, 5)
    assert await _versions(http, f"{router.url}/status/200", 20) == {"v2": 20}


async def test_new_weights_take_effect_on_the_next_request(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(90, 10)
    r = await http.put(f"{router.url}/-/weights", json={"stable": 50, "canary": 50})
    assert r.json() == {"stable": 50, "canary": 50}
    assert await _versions(http, f"{router.url}/status/200", 20) == {"v1": 10, "v2": 10}


async def test_sticky_users_never_flip_back_while_the_canary_weight_grows(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(95, 5, sticky=Sticky(header="X-User"))
    users = [f"user-{i}" for i in range(80)]
    history: dict[str, list[str]] = {u: [] for u in users}
    for canary_weight in (5, 30, 70, 100):
        await http.put(
            f"{router.url}/-/weights", json={"stable": 100 - canary_weight, "canary": canary_weight}
        )
        for user in users:
            for _ in range(2):  # the same user twice at the same weight: the same revision
                r = await http.get(f"{router.url}/status/200", headers={"X-User": user})
                history[user].append(r.headers["x-version"])
            assert history[user][-1] == history[user][-2]
    for user, seen in history.items():
        first_canary = seen.index("v2") if "v2" in seen else len(seen)
        assert set(seen[first_canary:]) <= {"v2"}, f"{user} flipped back: {seen}"
    moved = sum(seen[0] == "v1" and seen[-1] == "v2" for seen in history.values())
    assert moved > 55  # most users moved to the canary, each once


async def test_sticky_cookie_keeps_a_user_on_one_revision(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(50, 50, sticky=Sticky(cookie="uid"))
    for i in range(20):
        got = await _versions(http, f"{router.url}/status/200", 6, headers={"Cookie": f"a=1; uid=u{i}"})
        assert len(got) == 1


async def test_a_route_pins_fake_users_to_the_canary_even_at_weight_0(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(
        100,
        0,
        routes=(
            Route(header="X-Livesite-Route", value="canary", backend="canary"),
            Route(cookie="ab", value="b", backend="canary"),
        ),
    )
    url = f"{router.url}/status/200"
    assert await _versions(http, url, 5, headers={"X-Livesite-Route": "canary"}) == {"v2": 5}
    assert await _versions(http, url, 5, headers={"Cookie": "ab=b"}) == {"v2": 5}
    assert await _versions(http, url, 5, headers={"X-Livesite-Route": "other"}) == {"v1": 5}


async def test_stats_count_what_was_sent(start_router: StartRouter, http: httpx.AsyncClient) -> None:
    router = await start_router(1, 1)
    await http.delete(f"{router.url}/-/stats")
    for path in ["/status/200"] * 6 + ["/status/503"] * 2 + ["/status/404"] * 2:
        await http.get(f"{router.url}{path}")
    stats = (await http.get(f"{router.url}/-/stats")).json()
    total = {k: sum(b["status"][k] for b in stats["backends"].values()) for k in ("2xx", "4xx", "5xx")}
    assert total == {"2xx": 6, "4xx": 2, "5xx": 2}
    assert sum(b["requests"] for b in stats["backends"].values()) == 10
    assert sum(b["errors"] for b in stats["backends"].values()) == 2
    for b in stats["backends"].values():
        assert b["requests"] == 5 and b["latency"]["count"] == 5 and b["latency_seconds_sum"] > 0
        assert b["latency"]["buckets"][-1][1] == 5
    assert stats["since"] <= time.time()


async def test_requests_fail_over_at_once_when_a_backend_dies(
    start_router: StartRouter, http: httpx.AsyncClient, stable: TargetServer
) -> None:
    router = await start_router(50, 50, health=HealthCheck(enabled=False))
    assert await _versions(http, f"{router.url}/status/200", 4) == {"v1": 2, "v2": 2}
    await stable.__aexit__(None, None, None)  # stable dies: its port refuses connections
    assert await _versions(http, f"{router.url}/status/200", 10) == {"v2": 10}
    stats = (await http.get(f"{router.url}/-/stats")).json()["backends"]
    assert stats["stable"]["errors"] >= 1  # the attempts that found it dead are counted against it


async def test_health_checks_take_a_dead_backend_out_and_bring_it_back(
    start_router: StartRouter, http: httpx.AsyncClient, stable: TargetServer
) -> None:
    router = await start_router(50, 50)
    port = stable.port
    await stable.__aexit__(None, None, None)
    backends = await _until_health(http, router.url, [False, True])
    assert backends[0]["name"] == "stable"
    assert await _versions(http, f"{router.url}/status/200", 6) == {"v2": 6}

    async def revived(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Version: v1b\r\n\r\nok")

    server = await asyncio.start_server(revived, "127.0.0.1", port)  # the same port: the backend is back
    try:
        await _until_health(http, router.url, [True, True])
        assert await _versions(http, f"{router.url}/status/200", 6) == {"v1b": 3, "v2": 3}
    finally:
        server.close()


async def _until_health(http: httpx.AsyncClient, url: str, want: list[bool]) -> list[dict[str, object]]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        backends: list[dict[str, object]] = (await http.get(f"{url}/-/backends")).json()["backends"]
        if [b["healthy"] for b in backends] == want:
            break
        await asyncio.sleep(0.05)
    assert [b["healthy"] for b in backends] == want
    return backends


async def test_no_healthy_backend_answers_503(start_router: StartRouter, http: httpx.AsyncClient) -> None:
    router = await start_router(1, 0)
    r = await http.put(f"{router.url}/-/weights", json={"stable": 0, "canary": 0})
    assert r.status_code == 400  # all zero is refused and nothing changes
    assert (await http.get(f"{router.url}/-/weights")).json() == {"stable": 1, "canary": 0}


async def test_bodies_are_forwarded_whole_chunked_or_not(
    start_router: StartRouter, http: httpx.AsyncClient, stable: TargetServer
) -> None:
    router = await start_router(1, 0)

    async def chunks() -> object:
        for part in (b"a" * 70_000, b"b" * 5, b"c" * 1):
            yield part

    r = await http.post(f"{router.url}/echo", content=chunks())  # type: ignore[arg-type]
    echoed = r.json()
    assert echoed["body"] == "a" * 70_000 + "bbbbbc"
    assert echoed["headers"]["content-length"] == "70006"
    r = await http.get(f"{router.url}/chunked?chunks=7")
    assert r.headers["transfer-encoding"] == "chunked"
    assert len(r.content) > 0
    direct = await http.get(stable.url("/chunked?chunks=7"))
    assert r.content == direct.content
    r = await http.get(f"{router.url}/bytes?n=300000")
    assert r.content == b"x" * 300_000
    r = await http.get(f"{router.url}/close-delimited")
    assert r.status_code == 200 and r.content


async def test_hop_by_hop_headers_stay_on_their_hop_and_x_forwarded_for_is_added(
    start_router: StartRouter, http: httpx.AsyncClient
) -> None:
    router = await start_router(1, 0)
    r = await http.get(
        f"{router.url}/echo",
        headers={
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "1",
            "X-Kept": "2",
            "X-Forwarded-For": "10.0.0.1",
        },
    )
    headers = r.json()["headers"]
    assert "x-secret-hop" not in headers and headers["x-kept"] == "2"
    assert headers["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    assert r.headers["x-backend"] == "stable"
    r = await http.get(
        f"{router.url}/status/200?h=Connection:X-Internal&h=X-Internal:1&h=X-Public:2&h=Keep-Alive:timeout=5"
    )
    assert "x-internal" not in r.headers and "keep-alive" not in r.headers and r.headers["x-public"] == "2"


async def test_head_answers_keep_the_connection_usable(
    start_router: StartRouter, stable: TargetServer
) -> None:
    router = await start_router(1, 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", router.port)
    try:
        writer.write(
            b"HEAD /status/200?body=hello HTTP/1.1\r\nHost: x\r\n\r\nGET /bytes?n=3 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert (
            b"content-length: 5\r\n" in head.lower()
        )  # announced, not sent: the next answer follows at once
        second = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert second.startswith(b"HTTP/1.1 200")
        assert await asyncio.wait_for(reader.readexactly(3), 5) == b"xxx"
    finally:
        writer.close()


async def test_pipelined_requests_are_answered_in_order(start_router: StartRouter) -> None:
    router = await start_router(1, 1)
    reader, writer = await asyncio.open_connection("127.0.0.1", router.port)
    try:
        writer.write(b"".join(b"GET /echo?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5)))
        for i in range(5):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = int(
                next(
                    line.split(b":")[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
            )
            body = json.loads(await reader.readexactly(length))
            assert body["path"] == "/echo" and body["query"]["n"] == str(i)
    finally:
        writer.close()


async def test_backend_connections_are_pooled_across_requests(
    start_router: StartRouter, http: httpx.AsyncClient, stable: TargetServer
) -> None:
    router = await start_router(1, 0, health=HealthCheck(enabled=False))
    for _ in range(20):
        assert (await http.get(f"{router.url}/status/200")).status_code == 200
    assert stable.connections == 1


async def test_a_slow_reader_gets_a_large_body_whole_and_the_backend_connection_is_reused(
    start_router: StartRouter, stable: TargetServer
) -> None:
    router = await start_router(1, 0, health=HealthCheck(enabled=False))
    size = 2_000_000
    reader, writer = await asyncio.open_connection("127.0.0.1", router.port, limit=2**16)
    try:
        writer.write(b"GET /bytes?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % size)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        got = 0
        while got < size:  # read slowly: the router must pause the backend rather than buffer it all
            got += len(await asyncio.wait_for(reader.read(65536), 5))
            await asyncio.sleep(0.0005)
        assert got == size
        writer.write(b"GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 200")
    finally:
        writer.close()
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{router.url}/status/200")).status_code == 200
    assert stable.connections == 1  # one backend connection for all three, paused and resumed


async def test_concurrent_clients_each_get_their_own_answer(start_router: StartRouter) -> None:
    router = await start_router(1, 1)

    async def client(n: int) -> None:
        async with httpx.AsyncClient(base_url=router.url) as http:
            for i in range(15):
                body = f"client {n} request {i}".encode() * (1 + (n * i) % 50)
                r = await http.post(f"/echo?c={n}&i={i}", content=body)
                echoed = r.json()
                assert echoed["query"] == {"c": str(n), "i": str(i)} and echoed["body"] == body.decode()

    await asyncio.gather(*(client(n) for n in range(20)))
    async with httpx.AsyncClient() as http:
        stats = (await http.get(f"{router.url}/-/stats")).json()["backends"]
    assert sum(b["status"]["2xx"] for b in stats.values()) == 300
    assert all(b["requests"] == 150 for b in stats.values())
