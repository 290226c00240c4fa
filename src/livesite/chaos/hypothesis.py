"""The steady-state hypothesis: livesite checks, probed in rounds, held to a tolerance.

A round runs every check of the hypothesis once in each of its zones, through the probe service
(the same Results the monitor and rollouts use). Rounds are judged over a window: the share of runs
that passed, and the 95th percentile of their durations.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from livesite.chaos.spec import SteadyState
from livesite.config.models import Config
from livesite.errors import ConfigError
from livesite.probe import ProbeService
from livesite.results import Result


class Judgement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    holds: bool
    runs: int
    pass_rate: float | None
    p95_seconds: float | None
    reason: str
    failing: list[str] = []  # "check@zone: why", one per failed run (bounded)


def judge(results: Sequence[Result], steady: SteadyState) -> Judgement:
    """Pure: do these Results meet the tolerance?"""
    if not results:
        return Judgement(holds=False, runs=0, pass_rate=None, p95_seconds=None, reason="no runs: no evidence")
    passed = [r for r in results if r.passed]
    rate = len(passed) / len(results)
    durations = sorted(r.duration_seconds for r in results)
    p95 = durations[min(len(durations) - 1, math.ceil(0.95 * len(durations)) - 1)]
    problems = []
    tolerance = steady.tolerance
    if rate < tolerance.pass_rate:
        problems.append(f"pass rate {rate:.0%} < {tolerance.pass_rate:.0%}")
    if tolerance.p95 is not None and p95 > tolerance.p95:
        problems.append(f"p95 {p95 * 1000:.0f} ms > {tolerance.p95 * 1000:.0f} ms")
    failing = [f"{r.check}@{r.zone}: {r.reason()}" for r in results if not r.passed][:10]
    return Judgement(
        holds=not problems,
        runs=len(results),
        pass_rate=rate,
        p95_seconds=p95,
        reason="; ".join(problems) or f"{len(passed)}/{len(results)} passed",
        failing=failing,
    )


class Hypothesis:
    def __init__(self, config: Config, steady: SteadyState, probes: ProbeService | None = None) -> None:
        self.config = config
        self.steady = steady
        self.probes = probes or ProbeService(config)
        self.checks = []
        for name in steady.checks:
            check = config.check(name)
            if check is None:
                known = ", ".join(c.name for c in config.checks)
                raise ConfigError(
                    f"the steady state names check {name!r}, which the config lacks", hint=f"checks: {known}"
                )
            self.checks.append(check)

    async def round(self) -> list[Result]:
        """Every check once in each of its zones, concurrently."""
        runs = [
            self.probes.probe(check, zone)
            for check in self.checks
            for zone in (self.steady.zones or self.config.zones_for(check))
        ]
        return list(await asyncio.gather(*runs))

    def close(self) -> None:
        self.probes.close()
