"""Simulated samples for calibrating the judges: A/A (no change) and shifted series, independent or
AR(1), and sparse error counts. Pure: every function takes its ``random.Random``.

Latency model: 100 ms × exp(0.1·e) with e a standard-normal series (independent, or a stationary
AR(1) with coefficient φ scaled to unit variance), so the spread is ~10% and a +5% shift is a
multiplicative one, as a slower release tends to be.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from livesite.analysis.verdict import Count, Direction

MEDIAN_SECONDS = 0.1
SPREAD = 0.1


def noise(rng: random.Random, n: int, phi: float) -> list[float]:
    """n standard-normal values; with phi > 0 a stationary AR(1) series (started from its own law)."""
    if phi == 0:
        return [rng.gauss(0.0, 1.0) for _ in range(n)]
    scale = math.sqrt(1.0 - phi * phi)
    x = rng.gauss(0.0, 1.0)
    out = []
    for _ in range(n):
        out.append(x)
        x = phi * x + scale * rng.gauss(0.0, 1.0)
    return out


def latencies(rng: random.Random, n: int, phi: float = 0.0, shift: float = 0.0) -> list[float]:
    """n latencies in seconds, multiplied by (1 + shift)."""
    return [MEDIAN_SECONDS * (1.0 + shift) * math.exp(SPREAD * e) for e in noise(rng, n, phi)]


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means used here."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def counts(rng: random.Random, n: int, errors_per_interval: float, requests: int = 100) -> list[Count]:
    """n intervals of ``requests`` requests with Poisson(errors_per_interval) errors each."""
    return [(min(requests, poisson(rng, errors_per_interval)), requests) for _ in range(n)]


@dataclass(frozen=True, slots=True)
class Rate:
    """How often a judge said "fail" over ``runs`` simulated comparisons."""

    failed: int
    runs: int

    @property
    def rate(self) -> float:
        return self.failed / self.runs if self.runs else 0.0


ContinuousJudge = Callable[[Sequence[float], Sequence[float], Direction], bool]
CountJudge = Callable[[Sequence[Count], Sequence[Count], Direction], bool]


def continuous_rate(
    fails: ContinuousJudge,
    rng: random.Random,
    runs: int,
    n: int,
    phi: float = 0.0,
    shift: float = 0.0,
    direction: Direction = "increase",
) -> Rate:
    """The share of runs in which ``fails(baseline, canary, direction)`` is True."""
    hits = 0
    for _ in range(runs):
        baseline = latencies(rng, n, phi)
        canary = latencies(rng, n, phi, shift)
        hits += fails(baseline, canary, direction)
    return Rate(hits, runs)


def counts_rate(
    fails: CountJudge,
    rng: random.Random,
    runs: int,
    n: int,
    baseline_errors: float,
    canary_errors: float,
    direction: Direction = "increase",
) -> Rate:
    hits = 0
    for _ in range(runs):
        baseline = counts(rng, n, baseline_errors)
        canary = counts(rng, n, canary_errors)
        hits += fails(baseline, canary, direction)
    return Rate(hits, runs)
