"""Rollouts on the real demo: its zone-a front is the router (the built-in router's admin API),
simulated customers are the traffic, the router's own counters are the signal. A bad revision is
rolled back by itself; a good one is promoted; `livesite rollout` drives and reports it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from cli_runner import livesite
from livesite.demo import control
from livesite.demo.state import DemoState
from livesite.demo.traffic import shop

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "rollout.yaml"


async def test_a_bad_canary_is_rolled_back_and_a_good_one_promoted(fresh_demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    demo: DemoState = await fresh_demo(zones=("zone-a",))
    await control.set_weights(demo, "zone-a", {"shop-a1": 100, "shop-a2": 0})
    demo = await control.deploy(demo, "shop-a2", revision="v2", defects=["checkout-errors:1.0"])
    env = {**os.environ, **demo.env(), "LIVESITE_ROLLOUT_PAUSE": "60s", "LIVESITE_ROLLOUT_WINDOW": "10s"}
    spec = str(EXAMPLE)
    store = f"sqlite:///{tmp_path / 'r.db'}"
    stop = asyncio.Event()
    traffic = asyncio.create_task(shop(demo.front_url("zone-a"), stop, shoppers=8))

    bad = await asyncio.to_thread(
        livesite, "rollout", "start", "shop", "-f", spec, "--store", store, timeout=90, env=env
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "rolled-back" in bad.stdout and "errors: FAIL" in bad.stdout
    assert await control.get_weights(demo, "zone-a") == {"shop-a1": 100, "shop-a2": 0}
    status = await asyncio.to_thread(
        livesite, "rollout", "status", "shop", "-f", spec, "--store", store, env=env
    )
    assert "rolled-back" in status.stdout and "set weight 10" in status.stdout

    demo = await control.deploy(demo, "shop-a2", revision="v3", defects=[])
    env["LIVESITE_ROLLOUT_PAUSE"] = "2s"
    good = await asyncio.to_thread(
        livesite, "rollout", "start", "shop", "-f", spec, "--store", store, "--restart", timeout=120, env=env
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert await control.get_weights(demo, "zone-a") == {"shop-a1": 0, "shop-a2": 100}
    stop.set()
    sent = await traffic
    assert sent.requests > 0
