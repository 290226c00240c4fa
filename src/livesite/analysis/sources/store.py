"""Samples from livesite's own Results, split by revision (or cohort): fake users on the canary
against those on the stable revision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from livesite.analysis.sources.base import ContinuousSides, CountSides, Sides, SourceError
from livesite.analysis.verdict import Count, Kind
from livesite.store.base import SampleQuery, SampleReader, Samples


@dataclass(frozen=True, slots=True)
class StoreSource:
    """One check's Results over a window, ``baseline`` and ``canary`` naming revisions (or cohorts).

    ``continuous``: the passing Results' durations, oldest first (each bucket keeps at most
    ``limit``). ``counts``: (failed, total) per ``interval_seconds`` bucket, empty buckets included
    so both sides' intervals line up.
    """

    reader: SampleReader
    check: str
    since: datetime
    until: datetime
    baseline: str
    canary: str
    interval_seconds: float | None = 60.0
    zone: str | None = None
    by: Literal["revision", "cohort"] = "revision"
    limit: int = 1000

    async def fetch(self, kind: Kind) -> Sides:
        try:
            query = self._query(kind)
        except ValidationError as e:
            problems = "; ".join(err["msg"] for err in e.errors())
            raise SourceError(f"cannot read samples of {self.check!r} from the store: {problems}") from None
        found = await self.reader.samples(query)
        return sides_from_samples(found, self.baseline, self.canary, kind)

    def _query(self, kind: Kind) -> SampleQuery:
        return SampleQuery(
            check=self.check,
            zone=self.zone,
            since=self.since,
            until=self.until,
            interval_seconds=self.interval_seconds,
            by=self.by,
            groups=(self.baseline, self.canary),
            limit=self.limit if kind == "continuous" else 0,
        )


def sides_from_samples(found: list[Samples], baseline: str, canary: str, kind: Kind) -> Sides:
    """Split the store's per-group buckets into the two sides (pure)."""

    def side(group: str) -> list[Samples]:
        return sorted((s for s in found if s.group == group), key=lambda s: s.since)

    if kind == "counts":
        counts: dict[str, tuple[Count, ...]] = {
            g: tuple((s.failed, s.total) for s in side(g)) for g in (baseline, canary)
        }
        return CountSides(baseline=counts[baseline], canary=counts[canary])
    # A bucket's durations are newest first; a judge wants time order.
    values = {g: tuple(d for s in side(g) for d in reversed(s.durations_seconds)) for g in (baseline, canary)}
    return ContinuousSides(baseline=values[baseline], canary=values[canary])
