"""Rollouts on the real demo: its zone-a front is the router (the built-in router's admin API),
simulated customers are the traffic, the router's own counters are the signal. A bad revision is
rolled back by itself; a good one is promoted; `livesite rollout` drives and reports it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cli_runner import livesite
from livesite.demo import control
from livesite.demo.state import DemoState
from livesite.demo.traffic import shop


def _rollouts(demo: DemoState, steps: str, analysis: str) -> str:
    return f"""
rollouts:
  - name: shop
    router: {{type: builtin, url: "{demo.front_url("zone-a")}", token: "{demo.admin_token}"}}
    backends: {{stable: shop-a1, canary: shop-a2}}
    analysis: {analysis}
    strategy:
      canary:
        steps: {steps}
"""


async def test_a_bad_canary_is_rolled_back_and_a_good_one_promoted(fresh_demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    demo: DemoState = await fresh_demo(zones=("zone-a",))
    await control.set_weights(demo, "zone-a", {"shop-a1": 100, "shop-a2": 0})
    demo = await control.deploy(demo, "shop-a2", revision="v2", defects=["checkout-errors:1.0"])
    spec = tmp_path / "rollouts.yaml"
    analysis = "{interval: 1s, window: 60s, metrics: [{name: errors, source: router, measure: errors}]}"
    spec.write_text(_rollouts(demo, "[{set_weight: 30}, {pause: 60s}, {set_weight: 100}]", analysis))
    store = f"sqlite:///{tmp_path / 'r.db'}"
    stop = asyncio.Event()
    traffic = asyncio.create_task(shop(demo.front_url("zone-a"), stop))

    bad = await asyncio.to_thread(
        livesite, "rollout", "start", "shop", "-f", str(spec), "--store", store, timeout=90
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "rolled-back" in bad.stdout and "errors: FAIL" in bad.stdout
    assert await control.get_weights(demo, "zone-a") == {"shop-a1": 100, "shop-a2": 0}
    status = await asyncio.to_thread(livesite, "rollout", "status", "shop", "-f", str(spec), "--store", store)
    assert "rolled-back" in status.stdout and "set weight 30" in status.stdout

    demo = await control.deploy(demo, "shop-a2", revision="v3", defects=[])
    spec.write_text(
        _rollouts(demo, "[{set_weight: 30}, {analysis: {window: 6s}}, {set_weight: 100}]", analysis)
    )
    good = await asyncio.to_thread(
        livesite, "rollout", "start", "shop", "-f", str(spec), "--store", store, "--restart", timeout=90
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert await control.get_weights(demo, "zone-a") == {"shop-a1": 0, "shop-a2": 100}
    stop.set()
    sent = await traffic
    assert sent.requests > 0
