"""The builtin router's client against the running demo production (its zone-a front)."""

from __future__ import annotations

import httpx
import pytest

from livesite.demo import DemoState
from livesite.rollout.routers import BuiltinRouter, BuiltinSettings, Route, RouterError


async def test_the_builtin_router_moves_and_reads_the_demo_fronts_weights(demo: DemoState) -> None:
    router = BuiltinRouter(BuiltinSettings(url=demo.front_url("zone-a"), token=demo.admin_token))
    original = (await router.verify()).weights
    assert set(original) == {"shop-a1", "shop-a2"}
    try:
        await router.set_weights({"shop-a1": 100, "shop-a2": 0})
        before = await router.stats()
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(10):
                (await client.get(f"{demo.front_url('zone-a')}/-/health")).raise_for_status()
                (await client.get(f"{demo.front_url('zone-a')}/version")).raise_for_status()
        after = await router.stats()
        assert after["shop-a1"].requests - before["shop-a1"].requests >= 10
        assert after["shop-a2"].requests == before["shop-a2"].requests
        state = await router.verify()
        assert state.weights == {"shop-a1": 100, "shop-a2": 0}
        assert state.routes == []  # the front is the built-in router: it has routes, none set
        pinned = Route(header="X-Livesite-Route", value="canary", backend="shop-a2")
        await router.set_routes([pinned])
        assert (await router.verify()).routes == [pinned]
        await router.set_routes([])
    finally:
        await router.set_weights(original)


async def test_a_wrong_admin_token_is_a_rejected_router_error(demo: DemoState) -> None:
    router = BuiltinRouter(BuiltinSettings(url=demo.front_url("zone-a"), token="not-the-token-at-all"))
    with pytest.raises(RouterError) as caught:
        await router.verify()
    assert caught.value.kind == "rejected"
    assert "admin token was refused" in str(caught.value)
