"""The partner's run-time modes and feedback; the front's weights and stats."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from livesite.demo import DemoError, DemoState, control

pytestmark = pytest.mark.integration


async def _buyer(client: httpx.AsyncClient, base: str) -> dict[str, str]:
    email = f"buyer-{time.time_ns()}@example.test"
    creds = {"email": email, "password": "secret-pw"}
    await client.post(f"{base}/api/register", json=creds)
    token = (await client.post(f"{base}/api/login", json=creds)).json()["token"]
    return {"Authorization": f"Bearer {token}"}


async def test_partner_modes_change_what_the_shop_sees(demo: DemoState) -> None:
    base, partner = demo.zone_url("zone-a"), demo.partner_url
    async with httpx.AsyncClient(timeout=10) as client:
        auth = await _buyer(client, base)
        try:
            await control.set_partner_mode(demo, "slow", delay_ms=300)
            started = time.perf_counter()
            assert (await client.get(f"{partner}/widget.js")).status_code == 200
            assert time.perf_counter() - started >= 0.3

            await control.set_partner_mode(demo, "error")
            assert (await client.post(f"{partner}/api/payments", json={"amount_cents": 1})).status_code == 500
            await client.post(f"{base}/api/cart", json={"product_id": 1}, headers=auth)
            failed = await client.post(f"{base}/api/checkout", headers=auth)
            assert failed.status_code == 502 and "500" in failed.json()["error"]

            await control.set_partner_mode(demo, "down")
            down = await client.get(f"{partner}/health")
            assert down.status_code == 503 and down.headers["retry-after"] == "30"
            assert (await client.post(f"{base}/api/checkout", headers=auth)).status_code == 502
        finally:
            await control.set_partner_mode(demo, "ok")
        assert (await client.post(f"{base}/api/checkout", headers=auth)).status_code == 201


async def test_partner_keeps_feedback_reports(demo: DemoState) -> None:
    report = {"summary": "your widget.js answers 500", "check": "partner-widget"}
    async with httpx.AsyncClient() as client:
        stored = await client.post(f"{demo.partner_url}/feedback", json=report)
        rejected = await client.post(f"{demo.partner_url}/feedback", json=["not", "an", "object"])
        listed = (await client.get(f"{demo.partner_url}/feedback")).json()
    assert stored.status_code == 201 and rejected.status_code == 400
    assert any(item["report"] == report for item in listed)


async def test_invalid_partner_mode_is_rejected(demo: DemoState) -> None:
    with pytest.raises(DemoError, match="400"):
        await control.set_partner_mode(demo, "sideways")  # type: ignore[arg-type]


async def test_front_weights_steer_traffic_and_stats_count_it(demo: DemoState) -> None:
    front = demo.front_url("zone-a")
    async with httpx.AsyncClient() as client:
        try:
            weights = await control.set_weights(demo, "zone-a", {"shop-a1": 90, "shop-a2": 10})
            assert weights == {"shop-a1": 90, "shop-a2": 10}
            assert await control.get_weights(demo, "zone-a") == weights
            await control.front_stats(demo, "zone-a", reset=True)
            seen = Counter([(await client.get(f"{front}/version")).headers["x-instance"] for _ in range(20)])
            assert seen == {"shop-a1": 18, "shop-a2": 2}
            stats = await control.front_stats(demo, "zone-a")
            assert stats.backends["shop-a1"].requests == 18 and stats.backends["shop-a2"].requests == 2
            assert stats.backends["shop-a1"].errors == 0

            await control.set_weights(demo, "zone-a", {"shop-a1": 0, "shop-a2": 100})
            seen = Counter([(await client.get(f"{front}/version")).headers["x-instance"] for _ in range(5)])
            assert seen == {"shop-a2": 5}
        finally:
            await control.set_weights(demo, "zone-a", {"shop-a1": 50, "shop-a2": 50})


async def test_bad_weights_are_refused_with_the_known_backends(demo: DemoState) -> None:
    with pytest.raises(DemoError, match="shop-a1, shop-a2"):
        await control.set_weights(demo, "zone-a", {"shop-zz": 1})
    with pytest.raises(DemoError, match="above 0"):
        await control.set_weights(demo, "zone-a", {"shop-a1": 0, "shop-a2": 0})
    assert await control.get_weights(demo, "zone-a") == {"shop-a1": 50, "shop-a2": 50}


async def test_admin_paths_of_front_and_edge_stay_private(demo: DemoState) -> None:
    async with httpx.AsyncClient() as client:
        through_edge = await client.get(f"{demo.zone_url('zone-a')}/-/weights")
    assert through_edge.status_code == 404
