"""The cache kind against the real demo: a change reaches every zone's edge, or the zone that lags is named."""

from __future__ import annotations

import os
from pathlib import Path

from demo_plugin import DemoFactory
from livesite.config import load
from livesite.demo import DemoState
from livesite.monitor import plan, run_once
from livesite.results import CacheObservation, Result, Status

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cache.yaml"


async def _run(state: DemoState, budget: str = "3s") -> Result:
    config = load(EXAMPLE, env={**os.environ, **state.env(), "LIVESITE_CACHE_BUDGET": budget})
    results = await run_once(config, plan(config))
    assert len(results) == 1, "a cross-zone check runs once, not once per zone"
    return results[0]


async def _price(state: DemoState, zone: str) -> int:
    import httpx

    async with httpx.AsyncClient() as client:
        answer = await client.get(
            f"{state.zone_url(zone)}/api/products/4", headers={"Cache-Control": "no-cache"}
        )
        return int(answer.json()["price_cents"])


async def test_a_healthy_demo_serves_the_new_value_in_every_zone_and_gets_its_price_back(
    demo: DemoState,
) -> None:
    before = await _price(demo, "zone-a")
    result = await _run(demo)
    assert result.status is Status.ok, result.reason()
    assert result.zone == "zone-a"
    obs = result.observation
    assert isinstance(obs, CacheObservation)
    assert [z.zone for z in obs.zones] == ["zone-a", "zone-b"]
    assert all(z.consistent_after_seconds is not None for z in obs.zones)
    assert all(z.before in ("HIT", "MISS") for z in obs.zones)
    assert obs.restored is True
    names = [s.name for s in result.steps]
    assert names[:3] == ["read@zone-a", "read@zone-b", "write"]
    assert {"fresh@zone-a", "fresh@zone-b", "restore"} <= set(names)
    assert len(result.steps) <= 8, "steps stay bounded however many polls ran"
    # The restore's own purge reached the edges: both zones serve the old price again.
    assert await _price(demo, "zone-a") == before


async def test_a_purge_that_skips_zone_b_fails_and_names_zone_b(fresh_demo: DemoFactory) -> None:
    state = await fresh_demo(defects=["stale-purge-zone-b"], cache_ttl_seconds=30)
    result = await _run(state, budget="1500ms")
    assert result.status is Status.failed
    assert result.failure is not None and result.failure.step == "stale@zone-b"
    assert "zone-b still served the old value" in result.reason()
    assert "X-Cache HIT" in result.reason()
    assert "zone-a" not in result.failure.message
    obs = result.observation
    assert isinstance(obs, CacheObservation)
    by_zone = {z.zone: z for z in obs.zones}
    assert by_zone["zone-a"].consistent_after_seconds is not None
    assert by_zone["zone-b"].consistent_after_seconds is None and by_zone["zone-b"].stale_reads >= 2
    assert obs.restored is True, "the old price is written back even when the check failed"


async def test_a_purge_in_every_zone_reaches_the_edge_the_write_skipped(fresh_demo: DemoFactory) -> None:
    state = await fresh_demo(defects=["stale-purge-zone-b"])
    text = EXAMPLE.read_text().replace(
        "    poll:",
        "    purge:\n"
        "      {method: POST, url: /-/purge, headers: {Authorization: 'Bearer ${LIVESITE_DEMO_ADMIN_TOKEN}'},\n"
        "       json: {paths: [/api/products/4]}}\n"
        "    poll:",
    )
    from livesite.config import loads

    config = loads(text, env={**os.environ, **state.env(), "LIVESITE_CACHE_BUDGET": "1500ms"})
    [result] = await run_once(config, plan(config))
    assert result.status is Status.ok, result.reason()
    assert [s.name for s in result.steps if s.name.startswith("purge")] == ["purge@zone-a", "purge@zone-b"]
    shown = result.model_dump_json()
    assert state.admin_token not in shown, "the admin token in the write and purge headers is masked"


async def test_a_budget_longer_than_the_ttl_waits_the_stale_edge_out_and_measures_it(
    fresh_demo: DemoFactory,
) -> None:
    state = await fresh_demo(defects=["stale-purge-zone-b"], cache_ttl_seconds=2)
    result = await _run(state, budget="5s")
    assert result.status is Status.ok, result.reason()
    obs = result.observation
    assert isinstance(obs, CacheObservation)
    by_zone = {z.zone: z for z in obs.zones}
    purged, expired = by_zone["zone-a"].consistent_after_seconds, by_zone["zone-b"].consistent_after_seconds
    assert purged is not None and expired is not None
    # zone-b caught up only when its copy's 2 s TTL ran out; zone-a was purged by the write.
    assert by_zone["zone-b"].stale_reads >= 1 and expired > purged
