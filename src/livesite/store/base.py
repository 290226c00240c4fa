"""The Store contract, split by consumer: the monitor writes, the CLI and web read.

Implementations: ``store/sqlite.py`` (embedded default) and ``store/postgres.py``; both pass the
same conformance suite (``livesite.testing.store_conformance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from livesite.results import Result
from livesite.states import StateChange


class ResultQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str | None = None
    zone: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100  # newest first


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


class Store(ResultWriter, ResultReader, Protocol):
    async def compact(
        self, now: datetime, raw_retention_seconds: float, aggregate_retention_seconds: float
    ) -> Compaction:
        """Fold raw results older than the raw retention into per-minute aggregates; drop aggregates and
        state changes older than the aggregate retention."""
        ...

    async def close(self) -> None: ...
