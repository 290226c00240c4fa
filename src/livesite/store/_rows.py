"""What both SQL stores share: how a Result becomes a row, and how counts become an Uptime.

Times are stored as epoch seconds (a float) so range filters and per-minute buckets are plain
arithmetic in both SQLite and PostgreSQL. A naive datetime is read as UTC.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from pydantic_core import PydanticSerializationError

from livesite.errors import StoreError
from livesite.results import Result
from livesite.states import StateChange
from livesite.store.base import Compaction, ResultQuery, Uptime

SCHEMA_VERSION = 2
MINUTE_SECONDS = 60
COMPACT_CHUNK_ROWS = 50_000  # rows folded per transaction, so writers are never locked out for long

ResultRow = tuple[str, str, str, str, str, str, float, float, str]
EventRow = tuple[str, str, float, str]
# total, ok, degraded, failed, error, sum of durations
Counts = tuple[int, int, int, int, int, float]


def epoch(moment: datetime) -> float:
    """Epoch seconds of ``moment``; a naive datetime is taken to be UTC, never local time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def minute_floor(epoch_seconds: float) -> int:
    return math.floor(epoch_seconds / MINUTE_SECONDS) * MINUTE_SECONDS


def result_rows(results: Sequence[Result]) -> list[ResultRow]:
    """One row per Result: the indexed columns plus the full record, serialised once."""
    try:
        return [
            (
                r.id,
                r.check,
                r.zone,
                r.cohort,
                r.revision,
                r.status.value,
                epoch(r.started_at),
                r.duration_seconds,
                # Defaults come back on reading: leaving them out saves a fifth of every row.
                r.model_dump_json(exclude_defaults=True),
            )
            for r in results
        ]
    except PydanticSerializationError:
        return [_salvaged_row(r) for r in results]


def _salvaged_row(r: Result) -> ResultRow:
    """The slow path for a batch holding a string UTF-8 cannot encode (a lone surrogate left by a
    ``surrogateescape`` decode): store the Result with those characters replaced by ``?`` rather
    than fail the batch, which a write-behind buffer would retry forever."""
    try:
        record = r.model_dump_json(exclude_defaults=True)
    except PydanticSerializationError:
        record = _utf8(json.dumps(r.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False))
    return (
        _utf8(r.id),
        _utf8(r.check),
        _utf8(r.zone),
        _utf8(r.cohort),
        _utf8(r.revision),
        r.status.value,
        epoch(r.started_at),
        r.duration_seconds,
        record,
    )


def _utf8(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def event_rows(events: Sequence[StateChange]) -> list[EventRow]:
    try:
        return [(e.check, e.zone, epoch(e.at), e.model_dump_json()) for e in events]
    except PydanticSerializationError:  # see _salvaged_row
        return [
            (
                _utf8(e.check),
                _utf8(e.zone),
                epoch(e.at),
                _utf8(json.dumps(e.model_dump(mode="json"), ensure_ascii=False)),
            )
            for e in events
        ]


def counts_or_zero(row: Sequence[float | None] | None) -> Counts:
    """A SUM over no rows is NULL; an empty window counts as zeros."""
    if row is None:
        return (0, 0, 0, 0, 0, 0.0)
    total, ok, degraded, failed, error, duration = row
    return (
        int(total or 0),
        int(ok or 0),
        int(degraded or 0),
        int(failed or 0),
        int(error or 0),
        float(duration or 0.0),
    )


def uptime_from(check: str, zone: str | None, since: datetime, raw: Counts, minutes: Counts) -> Uptime:
    total = raw[0] + minutes[0]
    return Uptime(
        check=check,
        zone=zone,
        since=since,
        total=total,
        ok=raw[1] + minutes[1],
        degraded=raw[2] + minutes[2],
        failed=raw[3] + minutes[3],
        error=raw[4] + minutes[4],
        mean_duration_seconds=(raw[5] + minutes[5]) / total if total else None,
    )


def newer_schema(found: int, where: str) -> StoreError:
    return StoreError(
        f"{where} has schema version {found}, but this livesite understands up to {SCHEMA_VERSION}",
        hint="it was written by a newer livesite: upgrade livesite, or point it at another store",
    )


def where(query: ResultQuery, placeholder: Callable[[int], str]) -> tuple[str, list[object]]:
    """The WHERE clause of a results query and its parameters; ``placeholder(n)`` spells the n-th
    parameter (``?`` for SQLite, ``$n`` for PostgreSQL)."""
    clauses: list[str] = []
    params: list[object] = []
    for column, op, value in (
        ("check_name", "=", query.check),
        ("zone", "=", query.zone),
        ("started_at", ">=", None if query.since is None else epoch(query.since)),
        ("started_at", "<", None if query.until is None else epoch(query.until)),
    ):
        if value is not None:
            params.append(value)
            clauses.append(f"{column} {op} {placeholder(len(params))}")
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


async def compact_in_chunks(
    chunk: Callable[[], Awaitable[int]], finish: Callable[[], Awaitable[tuple[int, int]]]
) -> Compaction:
    """Fold chunk after chunk until one comes back short, then drop old aggregates and events.

    ``chunk`` folds and deletes at most COMPACT_CHUNK_ROWS raw results and says how many;
    ``finish`` returns (aggregates deleted, events deleted).
    """
    rolled_up = 0
    while True:
        done = await chunk()
        rolled_up += done
        if done < COMPACT_CHUNK_ROWS:
            break
    aggregates, events = await finish()
    return Compaction(rolled_up=rolled_up, aggregates_deleted=aggregates, events_deleted=events)
