"""Judge a canary from router statistics, the way a rollout step does: counts, latency, thresholds.

    python examples/judge_a_canary.py            # a canary with sparse errors and +20% latency
    python examples/judge_a_canary.py --healthy  # the same traffic without the regression

The snapshots are what a router adapter hands over (``BackendSample``: cumulative requests,
errors and a latency histogram per backend); here they are simulated with a seeded generator, so
the run is the same every time. Exit 0 when every verdict passes, 1 when one fails, 5 when one is
inconclusive (docs/analysis.md).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
from datetime import UTC, datetime, timedelta

from livesite.analysis import Threshold, Verdict, judge_sides, judge_threshold
from livesite.analysis.sources import BackendSample, LatencyBucket, RouterSource

BOUNDS = (0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.3, 0.5, math.inf)


def traffic(healthy: bool, intervals: int = 60, seed: int = 7) -> list[BackendSample]:
    """Ten-second snapshots of two backends: 100 requests each per interval."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    totals = {"stable": [0, 0, [0] * len(BOUNDS)], "canary": [0, 0, [0] * len(BOUNDS)]}
    out: list[BackendSample] = []
    for i in range(intervals + 1):
        for backend, state in totals.items():
            bad = backend == "canary" and not healthy
            if i:
                for _ in range(100):
                    latency = 0.1 * (1.2 if bad else 1.0) * math.exp(rng.gauss(0, 0.2))
                    state[0] += 1
                    state[2] = [c + (latency <= b) for c, b in zip(state[2], BOUNDS, strict=True)]
                state[1] += sum(rng.random() < 0.003 for _ in range(100)) if bad else 0
            out.append(
                BackendSample(
                    backend=backend,
                    at=start + timedelta(seconds=10 * i),
                    requests=state[0],
                    errors=state[1],
                    latency=tuple(
                        LatencyBucket(le_seconds=b, count=c) for b, c in zip(BOUNDS, state[2], strict=True)
                    ),
                )
            )
    return out


async def main(healthy: bool) -> int:
    source = RouterSource(baseline="stable", canary="canary", quantile=0.5)
    source.add(traffic(healthy))
    counts = await source.fetch("counts")
    latency = await source.fetch("continuous")
    verdicts: list[tuple[str, Verdict]] = [
        ("errors", judge_sides(counts)),  # the rate test: CountSides
        ("median latency", judge_sides(latency)),  # the rank test: ContinuousSides
        ("canary error rate", judge_threshold(Threshold.parse("error_rate < 1%"), counts.canary)),
    ]
    for name, verdict in verdicts:
        print(f"== {name}")
        for line in verdict.explain():
            print("  " + line)
    outcomes = {v.outcome for _, v in verdicts}
    return 1 if "fail" in outcomes else 5 if "inconclusive" in outcomes else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--healthy", action="store_true", help="no regression in the canary")
    raise SystemExit(asyncio.run(main(parser.parse_args().healthy)))
