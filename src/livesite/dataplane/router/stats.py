"""Per-backend traffic counters: requests, errors, status classes and a latency histogram.

The JSON keeps the demo front's keys (``requests``, ``errors``, ``latency_seconds_sum``) so its clients
keep working. An error is a request that got no answer from the backend (connect failed, reset, timed
out) or a 5xx. The histogram is cumulative, Prometheus-style: ``[le_seconds, count of requests that
took at most le_seconds]``; ``count`` is the total, which also stands for ``+Inf``.
"""

from __future__ import annotations

from bisect import bisect_left

from pydantic import BaseModel

# Edges from 0.5 ms (one loopback hop) to 10 s (a stuck backend), about three per decade.
LATENCY_EDGES_SECONDS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


class LatencyView(BaseModel):
    buckets: list[tuple[float, int]]
    count: int


class BackendStatsView(BaseModel):
    requests: int
    errors: int
    faults: int
    status: dict[str, int]
    latency_seconds_sum: float
    latency: LatencyView


class BackendStats:
    """The counters of one backend. ``record`` is on the hot path: a few integer additions."""

    __slots__ = ("counts", "errors", "faults", "latency_seconds_sum", "requests", "status")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.faults = 0  # answered by an injected fault rather than by the backend
        self.status = [0, 0, 0, 0, 0]
        self.latency_seconds_sum = 0.0
        self.counts = [0] * (len(LATENCY_EDGES_SECONDS) + 1)  # the last one is above every edge

    def record(self, status: int, seconds: float) -> None:
        """One finished exchange; ``status`` 0 means no answer at all."""
        if 100 <= status < 600:
            self.status[status // 100 - 1] += 1
        if status == 0 or status >= 500:
            self.errors += 1
        self.latency_seconds_sum += seconds
        self.counts[bisect_left(LATENCY_EDGES_SECONDS, seconds)] += 1

    def view(self) -> BackendStatsView:
        cumulative, buckets = 0, []
        for edge, count in zip(LATENCY_EDGES_SECONDS, self.counts, strict=False):
            cumulative += count
            buckets.append((edge, cumulative))
        return BackendStatsView(
            requests=self.requests,
            errors=self.errors,
            faults=self.faults,
            status=dict(zip(STATUS_CLASSES, self.status, strict=True)),
            latency_seconds_sum=round(self.latency_seconds_sum, 6),
            latency=LatencyView(buckets=buckets, count=sum(self.counts)),
        )
