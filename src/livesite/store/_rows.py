"""What both SQL stores share: how a Result becomes rows, the statements that read results, samples
and latest states, and how counts become an Uptime.

Times are stored as epoch seconds (a float) so range filters and per-minute buckets are plain
arithmetic in both SQLite and PostgreSQL. A naive datetime is read as UTC.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic_core import PydanticSerializationError

from livesite.errors import StoreError
from livesite.results import MIXED, Result, Status
from livesite.states import StateChange
from livesite.store.base import Compaction, ResultQuery, SampleQuery, Samples, Uptime

SCHEMA_VERSION = 3
MINUTE_SECONDS = 60
COMPACT_CHUNK_ROWS = 50_000  # rows folded per transaction, so writers are never locked out for long
UPGRADE_CHUNK_ROWS = 5_000  # records rewritten per round trip by the schema 3 migration

# id, check, zone, user, cohort, revision, status, started_at, duration_seconds, record
ResultRow = tuple[str, str, str, str, str, str, str, float, float, str]
# started_at, id, tag, value: the id and time find the Result's seq, as the unique index does
TagRow = tuple[float, str, str, str]
EventRow = tuple[str, str, float, str]
# total, ok, degraded, failed, error, sum of durations
Counts = tuple[int, int, int, int, int, float]


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the SQL of the two stores, for the statements they share."""

    results: str  # table names
    tags: str
    events: str
    placeholder: Callable[[int], str]  # the n-th parameter (from 1): ``?`` or ``$n``
    to_int: str  # a non-negative float's floor as an integer, around ``{}``
    least: str  # the smaller of two values
    record: str  # the record column as text


SQLITE = Dialect(
    results="results",
    tags="result_tags",
    events="events",
    placeholder=lambda _: "?",
    to_int="CAST({} AS INTEGER)",
    least="min",
    record="record",
)
POSTGRES = Dialect(
    results="livesite_results",
    tags="livesite_result_tags",
    events="livesite_events",
    placeholder=lambda n: f"${n}",
    to_int="floor({})::bigint",
    least="least",
    record="record::text",
)


def epoch(moment: datetime) -> float:
    """Epoch seconds of ``moment``; a naive datetime is taken to be UTC, never local time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def minute_floor(epoch_seconds: float) -> int:
    return math.floor(epoch_seconds / MINUTE_SECONDS) * MINUTE_SECONDS


def result_rows(results: Sequence[Result]) -> tuple[list[ResultRow], list[TagRow]]:
    """One row per Result (the indexed columns plus the full record, serialised once) and one row
    per tag of each."""
    try:
        rows = [
            (
                r.id,
                r.check,
                r.zone,
                r.user,
                r.cohort,
                r.revision,
                r.status.value,
                epoch(r.started_at),
                r.duration_seconds,
                record_json(r),
            )
            for r in results
        ]
    except (PydanticSerializationError, UnicodeEncodeError):
        rows = [_salvaged_row(r) for r in results]
    tags = [
        (row[7], row[0], _utf8(tag), _utf8(value))
        for r, row in zip(results, rows, strict=True)
        for tag, value in r.tags.items()
    ]
    return rows, tags


def record_json(r: Result) -> str:
    """The stored record: the Result's JSON without the fields that hold their default, which come
    back on reading and would be a fifth of every row, except an observation's ``kind``.

    ``kind`` is the default of its own class, so ``exclude_defaults`` drops it, yet reading needs
    it to tell an http observation from a socket one. The common case (an observation on the
    Result, none on its steps) splices it back into pydantic's own JSON, at a tenth of the cost
    of building the record as a dict.

    Raises:
        PydanticSerializationError, UnicodeEncodeError: a string UTF-8 cannot encode (see
            ``_salvaged_row``).
    """
    if any(step.observation is not None for step in r.steps):
        return _record_from_dict(r)
    if r.observation is None:
        return r.model_dump_json(exclude_defaults=True)
    head = r.model_dump_json(exclude_defaults=True, exclude={"observation"})
    body = r.observation.model_dump_json(exclude_defaults=True)
    kind = f'{{"kind":{json.dumps(r.observation.kind)}'
    # head is a non-empty object (check, kind and zone have no default): "{...}".
    return f'{head[:-1]},"observation":{kind}{"}" if body == "{}" else "," + body[1:]}}}'


def _record_from_dict(r: Result, *, utf8_only: bool = False) -> str:
    data = r.model_dump(mode="json", exclude_defaults=True)
    if r.observation is not None:
        data["observation"]["kind"] = r.observation.kind
    for step, dumped in zip(r.steps, data.get("steps", ()), strict=False):
        if step.observation is not None:
            dumped["observation"]["kind"] = step.observation.kind
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if utf8_only:
        return _utf8(text)
    text.encode("utf-8")  # json.dumps lets a lone surrogate through; pydantic's JSON would not
    return text


def _salvaged_row(r: Result) -> ResultRow:
    """The slow path for a batch holding a string UTF-8 cannot encode (a lone surrogate left by a
    ``surrogateescape`` decode): store the Result with those characters replaced by ``?`` rather
    than fail the batch, which a write-behind buffer would retry forever."""
    try:
        record = record_json(r)
    except (PydanticSerializationError, UnicodeEncodeError):
        record = _record_from_dict(r, utf8_only=True)
    return (
        _utf8(r.id),
        _utf8(r.check),
        _utf8(r.zone),
        _utf8(r.user),
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


class _Params:
    """Parameters in the order they appear in the SQL text, spelled by the dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.values: list[object] = []
        self._spell = dialect.placeholder

    def __call__(self, value: object) -> str:
        self.values.append(value)
        return self._spell(len(self.values))


def where(query: ResultQuery, dialect: Dialect) -> tuple[str, _Params]:
    """The WHERE clause of a results query and its parameters, every filter answerable by an index."""
    p = _Params(dialect)
    clauses: list[str] = []
    since = None if query.since is None else epoch(query.since)
    until = None if query.until is None else epoch(query.until)
    if query.check is not None:
        clauses.append(f"check_name = {p(query.check)}")
    if query.zone is not None:
        clauses.append(f"zone = {p(query.zone)}")
    if since is not None:
        clauses.append(f"started_at >= {p(since)}")
    if until is not None:
        clauses.append(f"started_at < {p(until)}")
    for column, value in (("revision", query.revision), ("cohort", query.cohort), ("user_name", query.user)):
        if value is not None:
            clauses.append(f"{column} = {p(value)}")
            # The column's index holds only rows where it is not empty (most Results have no cohort
            # or user, so it costs them nothing), and a planner uses it only when the query says
            # so in the index's own words.
            if value != "":
                clauses.append(f"{column} <> ''")
    statuses = query.statuses
    if statuses is not None:
        listed = ", ".join(p(s.value) for s in sorted(statuses))
        clauses.append(f"status IN ({listed})")
        # The status index leaves out ok, the bulk of all rows: a query for ok reads in time order.
        if Status.ok not in statuses:
            clauses.append("status <> 'ok'")
    for tag, value in sorted(query.tags.items()):
        # The time bounds again inside, so the tag index's range is cut to the window too.
        inner = f"tag = {p(tag)} AND value = {p(value)}"
        if since is not None:
            inner += f" AND started_at >= {p(since)}"
        if until is not None:
            inner += f" AND started_at < {p(until)}"
        clauses.append(f"seq IN (SELECT seq FROM {dialect.tags} WHERE {inner})")
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), p


def results_sql(query: ResultQuery, dialect: Dialect) -> tuple[str, list[object]]:
    """The statement reading ``query``'s Results, newest first."""
    clause, p = where(query, dialect)
    sql = (
        f"SELECT {dialect.record} FROM {dialect.results} {clause} "
        f"ORDER BY started_at DESC, seq DESC LIMIT {p(max(query.limit, 0))}"
    )
    return sql, p.values


_GROUP_COLUMNS = {"revision": "revision", "cohort": "cohort"}
_FAILED = f"CASE WHEN status IN ('{Status.failed.value}', '{Status.error.value}') THEN 1 ELSE 0 END"
_PASSED = f"status IN ('{Status.ok.value}', '{Status.degraded.value}')"


def samples_sql(query: SampleQuery, dialect: Dialect) -> tuple[str, list[object], str, list[object]]:
    """Two statements over the same rows: counts per group and bucket, and the newest passing
    durations per group and bucket (the query's limit of them), each with its parameters.

    Both read the window through the (check, started_at) index: the groups' own indexes would
    find the same rows and the zone still has to be read from each.
    """
    column = _GROUP_COLUMNS[query.by]  # a name spelled here, never text from the caller
    since, until = epoch(query.since), epoch(query.until)

    def windowed(p: _Params, columns: str, *also: str) -> str:
        if query.interval_seconds is None:
            bucket = "0"
        else:
            # Clamped: the float division can round a row just before ``until`` into one more bucket.
            offset = f"(started_at - {p(since)}) / {p(query.interval_seconds)}"
            bucket = f"{dialect.least}({dialect.to_int.format(offset)}, {p(query.buckets - 1)})"
        clauses = [f"check_name = {p(query.check)}", f"started_at >= {p(since)}", f"started_at < {p(until)}"]
        if query.zone is not None:
            clauses.append(f"zone = {p(query.zone)}")
        if query.groups is not None:
            clauses.append(f"{column} IN ({', '.join(p(g) for g in query.groups) or 'NULL'})")
        else:
            left_out = ("", MIXED) if column == "revision" else ("",)
            clauses.append(f"{column} NOT IN ({', '.join(p(g) for g in left_out)})")
        return (
            f"SELECT {column} AS grp, {bucket} AS bucket, {columns} FROM {dialect.results} "
            f"WHERE {' AND '.join((*clauses, *also))}"
        )

    counts = _Params(dialect)
    counts_sql = (
        f"SELECT grp, bucket, count(*), sum({_FAILED}) "
        f"FROM ({windowed(counts, 'status')}) AS windowed GROUP BY grp, bucket"
    )
    durations = _Params(dialect)
    inner = windowed(durations, "duration_seconds, started_at, seq", _PASSED)
    durations_sql = (
        "SELECT grp, bucket, duration_seconds FROM ("
        "SELECT grp, bucket, duration_seconds, "
        "row_number() OVER (PARTITION BY grp, bucket ORDER BY started_at DESC, seq DESC) AS n "
        f"FROM ({inner}) AS windowed) AS ranked "
        f"WHERE n <= {durations(query.limit)} ORDER BY grp, bucket, n"
    )
    return counts_sql, counts.values, durations_sql, durations.values


def samples_from(
    query: SampleQuery,
    counts: Sequence[tuple[str, int, int, int | None]],
    durations: Sequence[tuple[str, int, float]],
) -> list[Samples]:
    """Samples per group, then per bucket in time order, from the rows of ``samples_sql``."""
    totals = {(grp, int(bucket)): (int(total), int(failed or 0)) for grp, bucket, total, failed in counts}
    kept: dict[tuple[str, int], list[float]] = {}
    for grp, bucket, duration in durations:
        kept.setdefault((grp, int(bucket)), []).append(float(duration))
    groups = list(dict.fromkeys(query.groups)) if query.groups is not None else sorted({g for g, _ in totals})
    start = query.since if query.since.tzinfo is not None else query.since.replace(tzinfo=UTC)
    end = query.until if query.until.tzinfo is not None else query.until.replace(tzinfo=UTC)
    step = timedelta(seconds=query.interval_seconds) if query.interval_seconds is not None else end - start
    found: list[Samples] = []
    for group in groups:
        for bucket in range(query.buckets):
            total, failed = totals.get((group, bucket), (0, 0))
            found.append(
                Samples(
                    group=group,
                    since=start + step * bucket,
                    until=min(start + step * (bucket + 1), end),
                    durations_seconds=tuple(kept.get((group, bucket), ())),
                    failed=failed,
                    total=total,
                )
            )
    return found


def latest_states_sql(dialect: Dialect) -> str:
    """The newest state change of each (check, zone): a loose index scan over the (check, zone, at)
    index, a few probes per pair instead of reading every change. (A row-value comparison,
    ``(check, zone) > (?, ?)``, would say it in one probe, but SQLite seeks on the check alone and
    then reads every change of it.)"""
    events = dialect.events
    next_zone = f"(SELECT min(zone) FROM {events} WHERE check_name = pairs.check_name AND zone > pairs.zone)"
    next_check = f"(SELECT min(check_name) FROM {events} WHERE check_name > pairs.check_name)"
    return f"""
        WITH RECURSIVE pairs(check_name, zone) AS (
            SELECT * FROM (SELECT check_name, zone FROM {events} ORDER BY check_name, zone LIMIT 1) AS first
            UNION ALL
            SELECT
                CASE WHEN {next_zone} IS NULL THEN {next_check} ELSE pairs.check_name END,
                coalesce({next_zone}, (SELECT min(zone) FROM {events} WHERE check_name = {next_check}))
            FROM pairs WHERE pairs.check_name IS NOT NULL
        )
        SELECT (
            SELECT {dialect.record} FROM {events} AS e
            WHERE e.check_name = pairs.check_name AND e.zone = pairs.zone ORDER BY e.at DESC LIMIT 1
        )
        FROM pairs WHERE pairs.check_name IS NOT NULL
    """


def old_events_sql(dialect: Dialect) -> str:
    """Delete state changes older than a cutoff (the only parameter), except each (check, zone)'s
    newest: that one is the check's current state, which the monitor seeds from at start however
    long ago it changed."""
    events = dialect.events
    return (
        f"DELETE FROM {events} WHERE at < {dialect.placeholder(1)} AND at < ("
        f"SELECT max(newer.at) FROM {events} AS newer "
        f"WHERE newer.check_name = {events}.check_name AND newer.zone = {events}.zone)"
    )


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
