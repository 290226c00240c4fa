"""The contract every router keeps, against the real data plane: HAProxy, nginx and the demo's front."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

import httpx
import pytest

from conftest import Plane
from livesite.rollout.routers import BackendStats, Route, Router, RouterError

CANARY_HEADER = Route(header="X-Livesite-Route", value="canary", backend="canary")


async def send(url: str, n: int, headers: Mapping[str, str] | None = None, path: str = "/") -> Counter[str]:
    """Send n requests through the data plane; count which backend answered (its name is the body)."""
    seen: Counter[str] = Counter()
    # a new connection per request: uvicorn (the demo's front) answers kept-alive requests ~40 ms late here
    close = {"Connection": "close", **(headers or {})}
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(n):
            answer = await client.get(url + path, headers=close)
            seen[answer.text] += 1
    return seen


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"not within 5 s: {what}")
        await asyncio.sleep(0.02)  # polling with a deadline


def test_every_router_is_a_router(plane: Plane) -> None:
    assert isinstance(plane.router, Router)


async def test_a_90_10_split_sends_about_a_tenth_to_the_canary(plane: Plane) -> None:
    await plane.router.set_weights({"stable": 90, "canary": 10})
    seen = await send(plane.url, 200)
    assert set(seen) == {"stable", "canary"}
    assert 10 <= seen["canary"] <= 30, seen
    await plane.router.set_weights({"stable": 0, "canary": 100})
    assert await send(plane.url, 20) == {"canary": 20}


async def test_verify_reads_back_exactly_what_was_set(plane: Plane) -> None:
    await plane.router.set_weights({"stable": 70, "canary": 30})
    if plane.has_routes:
        await plane.router.set_routes(
            [CANARY_HEADER, Route(cookie="livesite_route", value="c1", backend="canary")]
        )
    state = await plane.router.verify()
    assert state.weights == {"stable": 70, "canary": 30}
    if plane.has_routes:
        assert state.routes is not None
        assert sorted(r.key() for r in state.routes) == sorted(
            [CANARY_HEADER.key(), ("cookie", "livesite_route", "c1", "canary")]
        )
    before = state.generation
    await plane.router.set_weights({"canary": 40})
    after = await plane.router.verify()
    assert after.weights == {"stable": 70, "canary": 40}
    assert after.generation != before


async def test_a_header_route_pins_requests_to_the_canary_even_at_weight_zero(plane: Plane) -> None:
    await plane.router.set_weights({"stable": 100, "canary": 0})
    if not plane.has_routes:
        with pytest.raises(RouterError) as caught:
            await plane.router.set_routes([CANARY_HEADER])
        assert caught.value.kind == "unsupported"
        assert "has no /-/routes" in str(caught.value)
        return
    await plane.router.set_routes(
        [CANARY_HEADER, Route(cookie="livesite_route", value="c1", backend="canary")]
    )
    assert await send(plane.url, 20, {"X-Livesite-Route": "canary"}) == {"canary": 20}
    assert await send(plane.url, 10, {"Cookie": "livesite_route=c1"}) == {"canary": 10}
    assert await send(plane.url, 20, {"X-Livesite-Route": "someone-else"}) == {"stable": 20}
    assert await send(plane.url, 20) == {"stable": 20}
    await plane.router.set_routes([])
    assert await send(plane.url, 10, {"X-Livesite-Route": "canary"}) == {"stable": 10}
    assert (await plane.router.verify()).routes == []


async def test_verify_reports_a_weight_changed_behind_its_back_as_a_mismatch(plane: Plane) -> None:
    await plane.router.set_weights({"stable": 90, "canary": 10})
    await plane.router.verify()
    await plane.tamper("canary", 50)
    with pytest.raises(RouterError) as caught:
        await plane.router.verify()
    assert caught.value.kind == "mismatch"
    assert "canary" in str(caught.value) or "edited" in str(caught.value)
    await plane.router.set_weights({"stable": 90, "canary": 10})  # setting again repairs it
    assert (await plane.router.verify()).weights == {"stable": 90, "canary": 10}


async def test_stats_count_the_requests_and_errors_each_backend_got(plane: Plane) -> None:
    await plane.router.set_weights({"stable": 50, "canary": 50})
    before = await plane.router.stats()
    ok = await send(plane.url, 40)
    failed = await send(plane.url, 10, path="/fail")

    def delta(now: dict[str, BackendStats], name: str) -> tuple[int, int]:
        return now[name].requests - before[name].requests, now[name].errors - before[name].errors

    want = {name: (ok[name] + failed[name], failed[name]) for name in ("stable", "canary")}

    async def counted() -> bool:
        now = await plane.router.stats()
        return {name: delta(now, name) for name in want} == want

    await eventually(counted, f"stats count {want}")
    now = await plane.router.stats()
    assert now["canary"].status.get("5xx", 0) - before["canary"].status.get("5xx", 0) == failed["canary"]
    assert now["stable"].latency.count >= ok["stable"]


async def test_a_data_plane_that_is_gone_is_an_unreachable_router_error(plane: Plane) -> None:
    await plane.router.verify()
    await plane.stop()

    async def gone() -> bool:
        try:
            await plane.router.verify()
            return False
        except RouterError as exc:
            return exc.kind == "unreachable"

    await eventually(gone, "verify says unreachable")
    with pytest.raises(RouterError) as caught:
        await plane.router.set_weights({"canary": 5})
    assert caught.value.kind == "unreachable"


async def test_unknown_backends_and_bad_weights_are_rejected_before_anything_changes(plane: Plane) -> None:
    await plane.router.set_weights({"stable": 80, "canary": 20})
    for bad in ({"nope": 10}, {"canary": -1}, {"canary": 10_000}):
        with pytest.raises(RouterError) as caught:
            await plane.router.set_weights(bad)
        assert caught.value.kind == "rejected", bad
    assert (await plane.router.verify()).weights == {"stable": 80, "canary": 20}
