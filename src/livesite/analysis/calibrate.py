"""A/A calibration: how often the judges fail a canary that is exactly the baseline.

Pure: the caller passes the generator, so a seed reproduces a run. Used by
``livesite analyze --calibrate`` and, with the power and sparse-error rows, by ``bench/judge.py``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from livesite.analysis import simulate
from livesite.analysis.continuous import RankSpec, judge_continuous
from livesite.analysis.counts import RateSpec, judge_counts
from livesite.analysis.verdict import Count, Direction

# What a calibrated judge must keep every A/A row under (docs/analysis.md).
FALSE_ALARM_BOUND = 0.01


class CalibrationRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str  # what was simulated, e.g. "latency, AR(1) phi=0.7"
    n: int  # samples (or intervals) per side
    runs: int
    false_alarms: int

    @property
    def rate(self) -> float:
        return self.false_alarms / self.runs if self.runs else 0.0


def calibrate(
    rng: random.Random,
    runs: int,
    rank: RankSpec | None = None,
    rate: RateSpec | None = None,
    sizes: Sequence[int] = (20, 60, 180),
    direction: Direction = "increase",
) -> list[CalibrationRow]:
    """A/A false-alarm counts: latencies (independent, and AR(1) φ = 0.7) at each size, and error
    counts (Poisson(0.3) of 100 requests per interval on both sides) at the middle size."""
    rank, rate = rank or RankSpec(), rate or RateSpec()

    def latency_fails(b: Sequence[float], c: Sequence[float], d: Direction) -> bool:
        return judge_continuous(b, c, d, rank).outcome == "fail"

    def counts_fail(b: Sequence[Count], c: Sequence[Count], d: Direction) -> bool:
        return judge_counts(b, c, d, rate).outcome == "fail"

    rows = []
    for phi, label in ((0.0, "latency, independent"), (0.7, "latency, AR(1) phi=0.7")):
        for n in sizes:
            found = simulate.continuous_rate(latency_fails, rng, runs, n, phi=phi, direction=direction)
            rows.append(CalibrationRow(scenario=label, n=n, runs=runs, false_alarms=found.failed))
    n = sorted(sizes)[len(sizes) // 2]
    found = simulate.counts_rate(counts_fail, rng, runs, n, 0.3, 0.3, direction=direction)
    rows.append(
        CalibrationRow(
            scenario="errors, Poisson(0.3)/100 requests", n=n, runs=runs, false_alarms=found.failed
        )
    )
    return rows
