"""One analysis of a rollout: every metric's samples fetched for the window, each judged, worst wins.

Sources do the I/O (``livesite.analysis.sources``); the judges are pure. Router metrics are judged
from the snapshots the analyzer takes itself each time it runs (``RouterSource``), so a rollout on
a router needs nothing else to be judged. A source that fails is an ``inconclusive`` Verdict with
its reason — never a pass, and never a crash of the controller.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

from livesite.analysis import (
    RankSpec,
    RateSpec,
    Threshold,
    Verdict,
    judge,
    judge_sequential,
    judge_threshold,
)
from livesite.analysis.sources.base import CountSides, Sides, Source, SourceError
from livesite.analysis.sources.prometheus import PromContinuous, PromCounts, PromSource
from livesite.analysis.sources.router import BackendSample, LatencyBucket, RouterSource
from livesite.analysis.sources.store import StoreSource
from livesite.analysis.verdict import Kind, SamplesUsed
from livesite.clock import Clock
from livesite.errors import LivesiteError
from livesite.rollout.routers.base import BackendStats, Router
from livesite.rollout.spec import Metric, RolloutSpec
from livesite.store.base import SampleReader
from livesite.store.rollouts import MetricVerdict

log = logging.getLogger(__name__)


class Analyzer(Protocol):
    async def analyze(self, window_seconds: float, *, interim: bool = False) -> list[MetricVerdict]:
        """Judge every metric over the last ``window_seconds``. ``interim``: a look while traffic
        moves, which may only fail early (the anytime-valid sequential test, for counts); the
        fixed-sample judges decide at the steps."""
        ...


def inconclusive(reason: str, kind: Kind = "counts") -> Verdict:
    return Verdict(
        outcome="inconclusive",
        kind=kind,
        direction="increase",
        test="none",
        alpha=0.0,
        samples=SamplesUsed(n_baseline=0, n_canary=0, effective_n_baseline=0, effective_n_canary=0),
        reason=reason,
    )


def _snapshot(stats: dict[str, BackendStats], at: datetime) -> list[BackendSample]:
    out = []
    for backend, s in stats.items():
        buckets = tuple(LatencyBucket(le_seconds=le, count=n) for le, n in (s.latency.buckets or []))
        out.append(
            BackendSample(
                backend=backend, at=at, requests=s.requests, errors=min(s.errors, s.requests), latency=buckets
            )
        )
    return out


class RolloutAnalyzer:
    """The analyzer a controller uses: the spec's metrics over the results store, the router, Prometheus."""

    def __init__(
        self, spec: RolloutSpec, router: Router, clock: Clock, results: SampleReader | None = None
    ) -> None:
        self.spec = spec
        self.router = router
        self.clock = clock
        self.results = results
        backends = spec.backends
        self._router_sources = {
            m.name: RouterSource(baseline=backends.stable, canary=backends.canary)
            for m in spec.analysis.metrics
            if m.source == "router"
        }

    async def snapshot_router(self) -> None:
        """Take one snapshot of the router's counters (each analysis judges the intervals between)."""
        if not self._router_sources:
            return
        at = datetime.fromtimestamp(self.clock.time(), tz=UTC)
        samples = _snapshot(await self.router.stats(), at)
        for source in self._router_sources.values():
            source.add(samples)
            horizon = at - timedelta(seconds=max(self.spec.analysis.window * 4, 600))
            source.snapshots = [s for s in source.snapshots if s.at >= horizon]

    async def analyze(self, window_seconds: float, *, interim: bool = False) -> list[MetricVerdict]:
        try:
            await self.snapshot_router()
        except LivesiteError as e:
            log.warning("router statistics unavailable: %s", e)
        out = []
        for metric in self.spec.analysis.metrics:
            if interim and metric.measure != "errors":
                continue  # the rank test and thresholds are fixed-sample: judged at the steps only
            out += await self._metric(metric, window_seconds, interim)
        return out

    async def _metric(self, metric: Metric, window: float, interim: bool) -> list[MetricVerdict]:
        kind: Kind = "counts" if metric.measure == "errors" else "continuous"
        try:
            sides = await self._source(metric, window).fetch(kind)
        except (SourceError, LivesiteError, OSError) as e:
            return [MetricVerdict(metric=metric.name, verdict=inconclusive(f"no samples: {e}", kind))]
        if interim and isinstance(sides, CountSides):
            n = min(len(sides.baseline), len(sides.canary))
            verdict = judge_sequential(sides.baseline[-n:], sides.canary[-n:], metric.direction)
            return [MetricVerdict(metric=metric.name, verdict=verdict)]
        verdicts = [MetricVerdict(metric=metric.name, verdict=self._judge(metric, sides))]
        if metric.threshold is not None:
            verdicts.append(
                MetricVerdict(
                    metric=f"{metric.name} ({metric.threshold})",
                    verdict=judge_threshold(Threshold.parse(metric.threshold), sides.canary),
                )
            )
        return verdicts

    def _judge(self, metric: Metric, sides: Sides) -> Verdict:
        if sides.kind == "counts":
            return judge(sides.baseline, sides.canary, "counts", metric.direction, spec=RateSpec())
        return judge(sides.baseline, sides.canary, "continuous", metric.direction, spec=RankSpec())

    def _source(self, metric: Metric, window: float) -> Source:
        until = datetime.fromtimestamp(self.clock.time(), tz=UTC)
        since = until - timedelta(seconds=window)
        interval = max(1.0, self.spec.analysis.interval)
        backends = self.spec.backends
        if metric.source == "router":
            return self._router_sources[metric.name]
        if metric.source == "results":
            if self.results is None:
                raise SourceError("results metrics need the store the checks write to")
            assert metric.check and self.spec.stable_revision and self.spec.canary_revision
            return StoreSource(
                reader=self.results,
                check=metric.check,
                since=since,
                until=until,
                baseline=self.spec.stable_revision,
                canary=self.spec.canary_revision,
                interval_seconds=interval,
            )
        assert metric.prometheus is not None

        def per(query: str | None, backend: str) -> str:
            return (query or "").replace("{backend}", backend)

        return PromSource(
            url=metric.prometheus,
            start=since,
            end=until,
            step_seconds=interval,
            continuous=PromContinuous(
                baseline=per(metric.query, backends.stable), canary=per(metric.query, backends.canary)
            )
            if metric.measure == "latency"
            else None,
            counts=PromCounts(
                baseline_events=per(metric.events, backends.stable),
                baseline_trials=per(metric.trials, backends.stable),
                canary_events=per(metric.events, backends.canary),
                canary_trials=per(metric.trials, backends.canary),
            )
            if metric.measure == "errors"
            else None,
        )
