"""How long a bad canary lives: from a rollout's start to all traffic back on stable, in the demo.

The issue's setting: the canary answers 8% of its requests with a 500 (checkout-errors:0.16 on a
cart-then-checkout loop, where every other request is a checkout), it gets 10% of the traffic, and
the traffic is 50 requests/s through zone-a's front. livesite judges the front's own counters every
second with the anytime-valid sequential rate test, so it stops as soon as the evidence is there.

There is no peer to run side by side here (Flagger and Argo Rollouts need Kubernetes); what Flagger
would take with its documented defaults is printed next to ours: rollback time = interval × threshold.

    .venv/bin/python bench/rollback.py [--runs 3] [--rate 50] [--weight 10] [--error-rate 0.08]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from livesite import demo
from livesite.clock import SystemClock
from livesite.config import loads_document
from livesite.demo import control
from livesite.demo.traffic import shop
from livesite.rollout.analyzer import RolloutAnalyzer
from livesite.rollout.controller import Controller
from livesite.rollout.spec import RolloutFile, router_of
from livesite.store import open_store
from livesite.store.rollouts import rollouts_of

SPEC = """
rollouts:
  - name: bench-{run}
    router: {{type: builtin, url: "{url}", token: "{token}"}}
    backends: {{stable: shop-a1, canary: shop-a2}}
    strategy: {{canary: {{steps: [{{set_weight: {weight}}}, {{pause: 10m}}, {{set_weight: 100}}]}}}}
    analysis:
      interval: 1s
      window: 60s
      metrics: [{{name: errors, source: router, measure: errors}}]
"""
FLAGGER_INTERVAL, FLAGGER_THRESHOLD = 60, 5  # Flagger's docs' example analysis


async def one(
    state: demo.DemoState, run: int, weight: int, rate: float, store_dir: Path
) -> tuple[float, str]:
    await control.set_weights(state, "zone-a", {"shop-a1": 100, "shop-a2": 0})
    text = SPEC.format(run=run, url=state.front_url("zone-a"), token=state.admin_token, weight=weight)
    spec = loads_document(text, RolloutFile).rollouts[0]
    results = await open_store(f"sqlite:///{store_dir / 'rollouts.db'}")
    rollouts = rollouts_of(results)
    assert rollouts is not None
    stop = asyncio.Event()
    traffic = asyncio.create_task(shop(state.front_url("zone-a"), stop, shoppers=10, rate_per_second=rate))
    try:
        await asyncio.sleep(2)  # the baseline's counters warm up, as a live site's would be
        router = router_of(spec.router)
        clock = SystemClock()
        controller = Controller(spec, router, rollouts, RolloutAnalyzer(spec, router, clock), clock=clock)
        t0 = time.monotonic()
        record = await asyncio.wait_for(controller.run(), 300)
        return time.monotonic() - t0, record.phase
    finally:
        stop.set()
        await traffic
        await results.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0, help="requests/s through the front")
    parser.add_argument("--weight", type=int, default=10, help="the canary's share, percent")
    parser.add_argument("--error-rate", type=float, default=0.08, help="the canary's share of 500s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="livesite-bench-rollback-") as tmp:
        work = Path(tmp)
        state = await demo.up(demo.DemoOptions(state_dir=work / "demo", zones=("zone-a",)))
        try:
            # Every other request is a checkout: a checkout error rate of 2x gives x of all requests.
            defect = f"checkout-errors:{min(1.0, 2 * args.error_rate):g}"
            state = await control.deploy(state, "shop-a2", revision="bad", defects=[defect])
            times = []
            for run in range(args.runs):
                seconds, phase = await one(state, run, args.weight, args.rate, work)
                print(f"run {run + 1}: {phase} after {seconds:.1f} s")
                if phase == "rolled-back":
                    times.append(seconds)
        finally:
            await demo.down(work / "demo")
    flagger = FLAGGER_INTERVAL * FLAGGER_THRESHOLD
    if not times:
        print("rollback: never rolled back")
        return
    print(
        f"rollback: {args.error_rate:.0%} errors at {args.weight}% weight, {args.rate:g} req/s: "
        f"median {statistics.median(times):.1f} s (min {min(times):.1f}, max {max(times):.1f}, {len(times)} runs) "
        f"vs Flagger's interval x threshold {FLAGGER_INTERVAL} s x {FLAGGER_THRESHOLD} = {flagger} s "
        f"→ goal <= 30 s {'met' if statistics.median(times) <= 30 else 'NOT met'}"
    )


if __name__ == "__main__":
    asyncio.run(main())
