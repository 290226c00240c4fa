"""Samples from Prometheus, through its HTTP API (``/api/v1/query_range``).

Each query must come back as at most one series: a judge compares one baseline with one canary, so
aggregate in PromQL (``sum(rate(...))``, ``histogram_quantile(0.99, sum by (le) (...))``). Points
Prometheus answers as NaN or ±Inf (a 0/0 rate in an idle interval) are left out: they are no data,
not a value. Counts are rounded to whole events and trials, since ``increase()`` extrapolates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from livesite.analysis.sources.base import ContinuousSides, CountSides, Sides, SourceError, SourceUnavailable
from livesite.analysis.verdict import Count, Kind


class PromContinuous(BaseModel):
    """One query per side, e.g. ``histogram_quantile(0.99, sum by (le) (rate(x_bucket{rev="v2"}[1m])))``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline: str
    canary: str


class PromCounts(BaseModel):
    """Events and trials per side, each a query such as ``sum(increase(errors_total{rev="v2"}[1m]))``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline_events: str
    baseline_trials: str
    canary_events: str
    canary_trials: str


class _Series(BaseModel):
    metric: dict[str, str]
    values: list[tuple[float, str]]


class _Data(BaseModel):
    resultType: str
    result: list[_Series]


class _Answer(BaseModel):
    status: str
    data: _Data | None = None
    errorType: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PromSource:
    """Range queries over [start, end] every ``step_seconds``; pass ``client`` to reuse a connection."""

    url: str
    start: datetime
    end: datetime
    step_seconds: float = 60.0
    continuous: PromContinuous | None = None
    counts: PromCounts | None = None
    timeout_seconds: float = 10.0
    client: httpx.AsyncClient | None = None

    async def fetch(self, kind: Kind) -> Sides:
        if self.end <= self.start:
            raise SourceError(f"the window ends ({self.end}) before it starts ({self.start})")
        if kind == "continuous":
            if self.continuous is None:
                raise SourceError("this Prometheus source has no continuous queries (PromContinuous)")
            b = await self._values(self.continuous.baseline)
            c = await self._values(self.continuous.canary)
            return ContinuousSides(baseline=tuple(v for _, v in b), canary=tuple(v for _, v in c))
        if self.counts is None:
            raise SourceError("this Prometheus source has no count queries (PromCounts)")
        q = self.counts
        return CountSides(
            baseline=_pair(await self._values(q.baseline_events), await self._values(q.baseline_trials)),
            canary=_pair(await self._values(q.canary_events), await self._values(q.canary_trials)),
        )

    async def _values(self, query: str) -> list[tuple[float, float]]:
        params = {
            "query": query,
            "start": f"{self.start.timestamp():.3f}",
            "end": f"{self.end.timestamp():.3f}",
            "step": f"{self.step_seconds:g}",
        }
        endpoint = self.url.rstrip("/") + "/api/v1/query_range"
        try:
            if self.client is not None:
                response = await self.client.get(endpoint, params=params, timeout=self.timeout_seconds)
            else:
                async with httpx.AsyncClient() as client:
                    response = await client.get(endpoint, params=params, timeout=self.timeout_seconds)
        except httpx.TransportError as e:
            raise SourceUnavailable(
                f"Prometheus at {self.url} cannot be reached: {type(e).__name__}: {e}",
                hint="check the URL and that Prometheus is up",
            ) from None
        try:
            answer = _Answer.model_validate_json(response.content)
        except ValidationError:
            raise SourceError(
                f"Prometheus at {self.url} answered HTTP {response.status_code} with something that is not "
                f"its API's JSON: {response.text[:200]!r}",
                hint="point the URL at Prometheus itself (http://host:9090), not at a page in front of it",
            ) from None
        if answer.status != "success" or answer.data is None:
            raise SourceError(
                f"Prometheus refused the query {query!r}: {answer.errorType}: {answer.error}",
                hint="try the query in Prometheus's own expression browser",
            )
        if answer.data.resultType != "matrix":
            raise SourceError(f"the query {query!r} gave a {answer.data.resultType}, not a range of values")
        if len(answer.data.result) > 1:
            labels = [s.metric for s in answer.data.result[:3]]
            raise SourceError(
                f"the query {query!r} gives {len(answer.data.result)} series (e.g. {labels}); a judge needs one",
                hint="aggregate it, e.g. sum(...) or sum by (le) (...) inside histogram_quantile",
            )
        if not answer.data.result:
            return []
        out = []
        for ts, raw in answer.data.result[0].values:
            value = float(raw)
            if math.isfinite(value):
                out.append((ts, value))
        return out


def _pair(events: list[tuple[float, float]], trials: list[tuple[float, float]]) -> tuple[Count, ...]:
    """(events, trials) for every timestamp where both queries have a value; no events is zero events
    (Prometheus drops a series' points when ``increase`` has nothing to count)."""
    by_time = {ts: v for ts, v in events}
    out: list[Count] = []
    for ts, t in trials:
        n = max(0, round(t))
        e = max(0, min(n, round(by_time.get(ts, 0.0))))
        out.append((e, n))
    return tuple(out)
