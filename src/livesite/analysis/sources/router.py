"""Samples from a router's per-backend statistics, as snapshots the router adapters produce.

A router's counters only grow (until it restarts), so a judge needs the differences between
consecutive snapshots of one backend: requests and errors per interval, and a latency quantile per
interval estimated from the histogram's buckets (linear within a bucket, as Prometheus's
``histogram_quantile``). Nothing here talks to a router: adapters produce :class:`BackendSample`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from livesite.analysis.sources.base import ContinuousSides, CountSides, Sides
from livesite.analysis.verdict import Count, Kind


class LatencyBucket(BaseModel):
    """Requests answered within ``le_seconds`` (cumulative, like a Prometheus ``le`` bucket)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    le_seconds: float = Field(gt=0)  # math.inf for the last bucket
    count: int = Field(ge=0)


class BackendSample(BaseModel):
    """One backend's counters at one moment, since the router started."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str
    at: datetime
    requests: int = Field(ge=0)
    errors: int = Field(ge=0)  # answers counted as failed (5xx, resets, timeouts)
    latency: tuple[LatencyBucket, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> BackendSample:
        if self.errors > self.requests:
            raise ValueError(f"{self.backend}: {self.errors} errors out of {self.requests} requests")
        bounds = [b.le_seconds for b in self.latency]
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise ValueError(f"{self.backend}: latency buckets must be in increasing order of le_seconds")
        counts = [b.count for b in self.latency]
        if counts != sorted(counts):
            raise ValueError(f"{self.backend}: latency buckets are cumulative: counts cannot decrease")
        return self


def _delta(now: int, before: int) -> int:
    return now if now < before else now - before  # a smaller counter means the router restarted


def histogram_quantile(q: float, buckets: Sequence[tuple[float, int]]) -> float | None:
    """The q-quantile of one interval's cumulative buckets; None when the interval saw nothing."""
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bucket: its bound is all we know
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def router_sides(
    snapshots: Sequence[BackendSample], baseline: str, canary: str, kind: Kind, quantile: float = 0.5
) -> Sides:
    """Per-interval samples of two backends from their snapshots (any order, other backends ignored)."""

    def side(backend: str) -> list[BackendSample]:
        return sorted((s for s in snapshots if s.backend == backend), key=lambda s: s.at)

    if kind == "counts":
        counts: dict[str, tuple[Count, ...]] = {}
        for name in (baseline, canary):
            seen = side(name)
            counts[name] = tuple(
                (_delta(b.errors, a.errors), _delta(b.requests, a.requests))
                for a, b in itertools.pairwise(seen)
            )
        # A restart can make errors outrun requests within one interval; a count cannot.
        fixed = {k: tuple((min(e, t), t) for e, t in v) for k, v in counts.items()}
        return CountSides(baseline=fixed[baseline], canary=fixed[canary])
    values: dict[str, tuple[float, ...]] = {}
    for name in (baseline, canary):
        seen = side(name)
        out: list[float] = []
        for a, b in itertools.pairwise(seen):
            before = {x.le_seconds: x.count for x in a.latency}
            restarted = b.requests < a.requests
            interval = [
                (x.le_seconds, x.count if restarted else _delta(x.count, before.get(x.le_seconds, 0)))
                for x in b.latency
            ]
            value = histogram_quantile(quantile, interval)
            if value is not None:
                out.append(value)
        values[name] = tuple(out)
    return ContinuousSides(baseline=values[baseline], canary=values[canary])


@dataclass
class RouterSource:
    """Snapshots handed over by whoever polls the router (the rollout controller); judged on demand."""

    baseline: str
    canary: str
    quantile: float = 0.5
    snapshots: list[BackendSample] = field(default_factory=list)

    def add(self, samples: Sequence[BackendSample]) -> None:
        self.snapshots.extend(samples)

    async def fetch(self, kind: Kind) -> Sides:
        return router_sides(self.snapshots, self.baseline, self.canary, kind, self.quantile)
