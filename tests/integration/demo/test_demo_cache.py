"""Edge caches: MISS then HIT with Age, purge through the shop reaches both zones."""

from __future__ import annotations

import uuid

import httpx
import pytest

from demo_plugin import eventually
from livesite.demo import DemoState, control

pytestmark = pytest.mark.integration


async def test_catalog_is_a_miss_then_a_hit_whose_age_grows(demo: DemoState) -> None:
    url = f"{demo.zone_url('zone-a')}/api/products/2?probe={uuid.uuid4().hex}"
    async with httpx.AsyncClient() as client:
        first = await client.get(url)
        second = await client.get(url)
        assert (first.headers["x-cache"], first.headers["age"]) == ("MISS", "0")
        assert second.headers["x-cache"] == "HIT"
        assert second.json() == first.json()

        async def aged() -> bool:
            reply = await client.get(url)
            return reply.headers["x-cache"] == "HIT" and int(reply.headers["age"]) >= 1

        await eventually(aged, timeout_seconds=5)


async def test_private_answers_are_never_cached(demo: DemoState) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(2):
            reply = await client.get(f"{demo.zone_url('zone-b')}/version")
            assert reply.headers["x-cache"] == "MISS"


async def test_a_price_change_purges_both_zones(demo: DemoState) -> None:
    async with httpx.AsyncClient() as client:
        for zone in demo.options.zones:  # warm both caches
            await client.get(f"{demo.zone_url(zone)}/api/products/3")
            assert (await client.get(f"{demo.zone_url(zone)}/api/products/3")).headers["x-cache"] == "HIT"
        change = await control.set_price(demo, 3, 4242)
        assert all(outcome.startswith("purged") for outcome in change.purge.values()), change.purge
        for zone in demo.options.zones:
            reply = await client.get(f"{demo.zone_url(zone)}/api/products/3")
            assert reply.headers["x-cache"] == "MISS"
            assert reply.json()["price_cents"] == 4242
            page = await client.get(f"{demo.zone_url(zone)}/products/3")
            assert "€42.42" in page.text


async def test_an_operator_purge_empties_the_edges(demo: DemoState) -> None:
    async with httpx.AsyncClient() as client:
        await client.get(f"{demo.zone_url('zone-b')}/about")
        assert (await client.get(f"{demo.zone_url('zone-b')}/about")).headers["x-cache"] == "HIT"
        purged = await control.purge(demo, ["/about"])
        assert purged["zone-b"] >= 1
        assert (await client.get(f"{demo.zone_url('zone-b')}/about")).headers["x-cache"] == "MISS"
