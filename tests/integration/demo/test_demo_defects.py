"""Every seeded defect, observed with plain HTTP requests against one defective demo.

The demo runs revision v2 with all defects in zone-a; `stale-zone:zone-b` keeps zone-b on v1 without them,
which makes zone-b the healthy reference for each observation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from demo_plugin import DemoFactory, eventually, run_sync
from livesite.demo import DemoState, control

pytestmark = pytest.mark.integration

DEFECTS = [
    "checkout-errors:1.0",
    "slow:300",
    "broken-link",
    "missing-anchor",
    "stale-purge-zone-b",
    "token-no-expiry",
    "stale-zone:zone-b",
]


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoState]:
    factory = DemoFactory(tmp_path_factory.mktemp("defective"))
    try:
        yield run_sync(factory(revision="v2", defects=DEFECTS, token_ttl_seconds=1, instances_per_zone=1))
    finally:
        factory.stop_all()


async def _token(client: httpx.AsyncClient, base: str) -> str:
    creds = {"email": f"d-{time.time_ns()}@example.test", "password": "secret-pw"}
    await client.post(f"{base}/api/register", json=creds)
    return str((await client.post(f"{base}/api/login", json=creds)).json()["token"])


async def test_stale_zone_keeps_serving_the_previous_revision(defective: DemoState) -> None:
    async with httpx.AsyncClient() as client:
        a = await client.get(f"{defective.zone_url('zone-a')}/version")
        b = await client.get(f"{defective.zone_url('zone-b')}/version")
    assert a.headers["x-version"] == "v2"
    assert b.headers["x-version"] == "v1"


async def test_checkout_errors_fail_checkout_with_500(defective: DemoState) -> None:
    base = defective.zone_url("zone-a")
    async with httpx.AsyncClient(timeout=10) as client:
        auth = {"Authorization": f"Bearer {await _token(client, base)}"}
        await client.post(f"{base}/api/cart", json={"product_id": 1}, headers=auth)
        failed = await client.post(f"{base}/api/checkout", headers=auth)
        assert failed.status_code == 500 and failed.json()["error"] == "checkout failed"
    stats = await control.front_stats(defective, "zone-a")
    assert stats.backends["shop-a1"].errors >= 1


async def test_slow_adds_latency(defective: DemoState) -> None:
    async with httpx.AsyncClient() as client:
        started = time.perf_counter()
        reply = await client.get(f"{defective.front_url('zone-a')}/products")
        elapsed = time.perf_counter() - started
    assert reply.status_code == 200
    assert elapsed >= 0.3


async def test_broken_link_points_home_page_at_a_404(defective: DemoState) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        home = await client.get(defective.zone_url("zone-a") + "/")
        sale = await client.get(defective.zone_url("zone-a") + "/sale")
        healthy = await client.get(defective.zone_url("zone-b") + "/")
    assert 'href="/sale"' in home.text and sale.status_code == 404
    assert 'href="/sale"' not in healthy.text


async def test_missing_anchor_leaves_reviews_link_without_target(defective: DemoState) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        page = (await client.get(defective.zone_url("zone-a") + "/products/1")).text
        healthy = (await client.get(defective.zone_url("zone-b") + "/products/1")).text
    assert 'href="#reviews"' in page and 'id="reviews"' not in page
    assert 'id="reviews"' in healthy


async def test_stale_purge_leaves_zone_b_serving_the_old_price(defective: DemoState) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        old = {}
        for zone in defective.options.zones:
            old[zone] = (await client.get(f"{defective.zone_url(zone)}/api/products/4")).json()["price_cents"]
        change = await control.set_price(defective, 4, 777, zone="zone-a")
        assert change.purge["zone-b"] == "skipped"
        a = await client.get(f"{defective.zone_url('zone-a')}/api/products/4")
        b = await client.get(f"{defective.zone_url('zone-b')}/api/products/4")
    assert a.json()["price_cents"] == 777
    assert b.headers["x-cache"] == "HIT" and b.json()["price_cents"] == old["zone-b"] != 777


async def test_token_no_expiry_accepts_expired_tokens(defective: DemoState) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        auth = {"Authorization": f"Bearer {await _token(client, defective.zone_url('zone-b'))}"}

        async def expired_for_healthy_zone() -> bool:  # zone-b runs v1, which enforces the TTL
            return (
                await client.get(f"{defective.zone_url('zone-b')}/api/me", headers=auth)
            ).status_code == 401

        await eventually(expired_for_healthy_zone, timeout_seconds=5)
        still = await client.get(f"{defective.zone_url('zone-a')}/api/me", headers=auth)
    assert still.status_code == 200
