"""The Store contract, split by consumer: the monitor writes and seeds its states, the CLI and web
read Results, a judge reads samples.

Implementations: ``store/sqlite.py`` (embedded default) and ``store/postgres.py``; both pass the
same conformance suite (``livesite.testing.store_conformance``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from livesite.results import Result, Status
from livesite.states import StateChange

# A window cut finer than this is a mistake (a day in one-second buckets), not a request.
MAX_SAMPLE_BUCKETS = 10_000


class ResultQuery(BaseModel):
    """Which Results to read, newest first; every filter given must hold, each from an index.

    ``revision``, ``cohort`` and ``user`` match exactly; their indexes hold only Results that have
    one, so asking for ``""`` (Results without) works but reads in time order. ``status`` takes one
    status or a set (any of them); its index leaves out ok, the bulk of all Results, which reading
    in time order finds at once. ``tags`` must all be present with those values.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str | None = None
    zone: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    revision: str | None = None
    cohort: str | None = None
    user: str | None = None
    status: Status | frozenset[Status] | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    limit: int = 100  # newest first

    @field_validator("status")
    @classmethod
    def _some_status(cls, value: Status | frozenset[Status] | None) -> Status | frozenset[Status] | None:
        if isinstance(value, frozenset) and not value:
            raise ValueError("give at least one status, or None for any")
        return value

    @property
    def statuses(self) -> frozenset[Status] | None:
        """The statuses asked for as a set, or None for any."""
        if self.status is None or isinstance(self.status, frozenset):
            return self.status
        return frozenset({self.status})


class SampleQuery(BaseModel):
    """The Results of one check over a window, grouped by revision (or cohort) and cut into buckets.

    Buckets start at ``since`` and are ``interval_seconds`` long (the last one ends at ``until``);
    without an interval the whole window is one bucket. ``groups`` names the revisions (or cohorts)
    to report, each with every bucket even when empty; without it, every group seen is reported
    except Results that have none (``""``) or saw several revisions (``"mixed"``), which would
    credit one side with the other's answers. Ask for ``"mixed"`` or ``""`` by name to see them.
    ``limit`` bounds the durations kept per group and bucket: the newest ones.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str
    zone: str | None = None  # None: every zone
    since: datetime  # inclusive
    until: datetime  # exclusive
    interval_seconds: float | None = Field(default=None, gt=0)
    by: Literal["revision", "cohort"] = "revision"
    groups: tuple[str, ...] | None = None
    limit: int = Field(default=1000, ge=0)

    @model_validator(mode="after")
    def _window(self) -> SampleQuery:
        span = _utc(self.until).timestamp() - _utc(self.since).timestamp()
        if span <= 0:
            raise ValueError(f"until ({self.until}) must be after since ({self.since})")
        if self.interval_seconds is not None and span / self.interval_seconds > MAX_SAMPLE_BUCKETS:
            raise ValueError(
                f"{span:g} s in {self.interval_seconds:g} s buckets is more than {MAX_SAMPLE_BUCKETS} "
                "buckets: choose a longer interval or a shorter window"
            )
        return self

    @property
    def buckets(self) -> int:
        if self.interval_seconds is None:
            return 1
        span = _utc(self.until).timestamp() - _utc(self.since).timestamp()
        return max(1, math.ceil(span / self.interval_seconds))


class Samples(BaseModel):
    """What a judge compares: one group's (revision's or cohort's) Results in one bucket of time.

    ``durations_seconds`` holds the durations of *passing* Results only (ok or degraded), newest
    first, at most the query's ``limit``: a failed Result's duration says how fast it failed (a
    refused connect takes a millisecond, a timeout takes the whole timeout), which would drag a
    latency comparison either way. Failures are counted in ``failed`` instead: Results whose status
    is failed or error, out of ``total``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str  # the revision, or the cohort when the query was by cohort
    since: datetime  # this bucket, inclusive
    until: datetime  # exclusive
    durations_seconds: tuple[float, ...]
    failed: int
    total: int

    @property
    def passed(self) -> int:
        return self.total - self.failed

    @property
    def truncated(self) -> bool:
        """True when the limit left out some passing Results' durations."""
        return len(self.durations_seconds) < self.passed


class Uptime(BaseModel):
    """Counts over a window, from raw results and the per-minute aggregates that replaced old ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str
    zone: str | None
    since: datetime
    total: int
    ok: int
    degraded: int
    failed: int
    error: int
    mean_duration_seconds: float | None

    @property
    def ratio(self) -> float | None:
        """Share of results that passed (ok or degraded), or None with no data."""
        return (self.ok + self.degraded) / self.total if self.total else None


class Compaction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rolled_up: int  # raw results folded into per-minute aggregates, then deleted
    aggregates_deleted: int
    events_deleted: int = 0  # state changes older than the aggregate retention


class ResultWriter(Protocol):
    async def add_results(self, results: Sequence[Result]) -> None: ...
    async def add_events(self, events: Sequence[StateChange]) -> None: ...


class ResultReader(Protocol):
    async def results(self, query: ResultQuery) -> list[Result]: ...
    async def uptime(self, check: str, zone: str | None, since: datetime) -> Uptime: ...
    async def events(self, check: str | None = None, limit: int = 100) -> list[StateChange]: ...
    async def checks(self) -> list[str]: ...


class SampleReader(Protocol):
    """What a judge reads: latency samples and failure counts per revision and interval."""

    async def samples(self, query: SampleQuery) -> list[Samples]:
        """One :class:`Samples` per group and bucket, by group, then bucket in time order."""
        ...


class StateHistory(Protocol):
    """What the monitor reads at start, so a restart does not announce every check as new."""

    async def latest_states(self) -> list[StateChange]:
        """The latest state change of each (check, zone), sorted by check then zone."""
        ...


class Store(ResultWriter, ResultReader, SampleReader, StateHistory, Protocol):
    async def compact(
        self, now: datetime, raw_retention_seconds: float, aggregate_retention_seconds: float
    ) -> Compaction:
        """Fold raw results older than the raw retention into per-minute aggregates; drop aggregates and
        state changes older than the aggregate retention, except each (check, zone)'s latest state
        change, which is its current state."""
        ...

    async def close(self) -> None: ...


def _utc(moment: datetime) -> datetime:
    """A naive datetime is UTC, as the stores read it."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
