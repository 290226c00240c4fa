"""The shared store: PostgreSQL through an asyncpg pool, with the same semantics as SQLite.

Tables carry a ``livesite_`` prefix so the store can live in a database that holds other things.
Times are epoch seconds (``double precision``) exactly as in SQLite, so filters, per-minute buckets
and compaction agree between the two. The full record is ``json``, not ``jsonb``: jsonb rejects
``\u0000``, which an observed response body can hold, and json costs no parse tree per insert.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

from livesite.errors import StoreError
from livesite.results import Result
from livesite.states import StateChange
from livesite.store import _rows, _upgrade
from livesite.store.base import Compaction, ResultQuery, SampleQuery, Samples, Uptime

T = TypeVar("T")

_MIGRATION_LOCK = 0x6C697665  # pg_advisory_xact_lock key: "live"

_SCHEMA_3_TABLES = """
    ALTER TABLE livesite_results ADD COLUMN user_name text NOT NULL DEFAULT '';
    -- One row per tag of a Result, keyed by the Result's seq so compaction deletes a chunk's tags
    -- through the primary key. Results without tags (most) cost nothing here.
    CREATE TABLE livesite_result_tags (
        seq bigint NOT NULL,
        started_at double precision NOT NULL,
        tag text NOT NULL,
        value text NOT NULL,
        PRIMARY KEY (seq, tag)
    );
"""

# Built after the records are rewritten; partial as in sqlite.py (see _rows.where).
_SCHEMA_3_INDEXES = """
    CREATE INDEX livesite_result_tags_match ON livesite_result_tags (tag, value, started_at, seq);
    CREATE INDEX livesite_results_revision_time ON livesite_results (revision, started_at)
        WHERE revision <> '';
    CREATE INDEX livesite_results_cohort_time ON livesite_results (cohort, started_at) WHERE cohort <> '';
    CREATE INDEX livesite_results_user_time ON livesite_results (user_name, started_at)
        WHERE user_name <> '';
    CREATE INDEX livesite_results_status_time ON livesite_results (status, started_at)
        WHERE status <> 'ok';
"""

_REWRITE = """
    UPDATE livesite_results AS r SET record = u.record::json, user_name = u.user_name
    FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(record, user_name, seq)
    WHERE r.seq = u.seq
"""

_MIGRATED_TAGS = """
    INSERT INTO livesite_result_tags (seq, started_at, tag, value)
    SELECT * FROM unnest($1::bigint[], $2::float8[], $3::text[], $4::text[])
"""


async def _schema_3(conn: asyncpg.Connection) -> None:
    """HTTP facts move into an observation (every stored record is rewritten, see store/_upgrade.py);
    a user column, a tags table and indexes for every ResultQuery filter."""
    await conn.execute(_SCHEMA_3_TABLES)
    after = 0
    while True:
        rows = await conn.fetch(
            "SELECT seq, started_at, record::text FROM livesite_results WHERE seq > $1 ORDER BY seq LIMIT $2",
            after,
            _rows.UPGRADE_CHUNK_ROWS,
        )
        if not rows:
            break
        rewrites, tags = _upgrade.upgrade_rows([(row[0], row[1], row[2]) for row in rows])
        if rewrites:
            await conn.execute(_REWRITE, *zip(*rewrites, strict=True))
        if tags:
            await conn.execute(_MIGRATED_TAGS, *zip(*tags, strict=True))
        after = rows[-1][0]
    await conn.execute(_SCHEMA_3_INDEXES)


Migration = str | Callable[[asyncpg.Connection], Awaitable[None]]

_MIGRATIONS: dict[int, Migration] = {
    1: """
        CREATE TABLE livesite_results (
            seq bigserial PRIMARY KEY,
            id text NOT NULL,
            check_name text NOT NULL,
            zone text NOT NULL,
            cohort text NOT NULL,
            revision text NOT NULL,
            status text NOT NULL,
            started_at double precision NOT NULL,
            duration_seconds double precision NOT NULL,
            record json NOT NULL
        );
        -- Unique so a retried batch is stored once; time first keeps inserts at the index's end.
        CREATE UNIQUE INDEX livesite_results_time_id ON livesite_results (started_at, id);
        CREATE INDEX livesite_results_check_time ON livesite_results (check_name, started_at);
        CREATE TABLE livesite_events (
            seq bigserial PRIMARY KEY,
            check_name text NOT NULL,
            zone text NOT NULL,
            at double precision NOT NULL,
            record json NOT NULL
        );
        CREATE INDEX livesite_events_check_time ON livesite_events (check_name, at);
        CREATE INDEX livesite_events_time ON livesite_events (at);
        CREATE TABLE livesite_minutes (
            check_name text NOT NULL,
            zone text NOT NULL,
            minute bigint NOT NULL,
            total bigint NOT NULL,
            ok bigint NOT NULL,
            degraded bigint NOT NULL,
            failed bigint NOT NULL,
            error bigint NOT NULL,
            sum_duration double precision NOT NULL,
            max_duration double precision NOT NULL,
            PRIMARY KEY (check_name, zone, minute)
        );
        CREATE INDEX livesite_minutes_minute ON livesite_minutes (minute);
    """,
    # (check, zone, at) names a state change: a retried event batch is stored once (see sqlite.py).
    2: """
        DELETE FROM livesite_events WHERE seq NOT IN (
            SELECT min(seq) FROM livesite_events GROUP BY check_name, zone, at
        );
        CREATE UNIQUE INDEX livesite_events_once ON livesite_events (check_name, zone, at);
    """,
    3: _schema_3,
}

# One round trip per batch: columns travel as arrays and are unnested server-side.
_INSERT_RESULTS = """
    INSERT INTO livesite_results
        (id, check_name, zone, user_name, cohort, revision, status, started_at, duration_seconds, record)
    SELECT id, check_name, zone, user_name, cohort, revision, status, started_at, duration_seconds,
           record::json
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::float8[], $9::float8[], $10::text[])
        AS batch(id, check_name, zone, user_name, cohort, revision, status, started_at, duration_seconds,
                 record)
    ON CONFLICT (started_at, id) DO NOTHING
"""

# A batch with tags stores them in the same statement, for the Results it stored: a retried batch
# stores neither twice.
_INSERT_RESULTS_AND_TAGS = f"""
    WITH stored AS ({_INSERT_RESULTS} RETURNING seq, started_at, id)
    INSERT INTO livesite_result_tags (seq, started_at, tag, value)
    SELECT stored.seq, stored.started_at, tags.tag, tags.value
    FROM stored JOIN unnest($11::float8[], $12::text[], $13::text[], $14::text[])
        AS tags(started_at, id, tag, value)
        ON tags.started_at = stored.started_at AND tags.id = stored.id
"""

_INSERT_EVENTS = """
    INSERT INTO livesite_events (check_name, zone, at, record)
    SELECT check_name, zone, at, record::json
    FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[]) AS batch(check_name, zone, at, record)
    ON CONFLICT (check_name, zone, at) DO NOTHING
"""

_COUNTS = """
    count(*), count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status = 'degraded'),
    count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'error'),
    sum(duration_seconds)
"""

# Fold and delete one chunk atomically: the DELETE hands its rows straight to the INSERT.
_ROLL_UP = f"""
    WITH gone AS (
        DELETE FROM livesite_results WHERE seq IN (
            SELECT seq FROM livesite_results WHERE started_at < $1 ORDER BY started_at, id LIMIT $2
        )
        RETURNING seq, check_name, zone, status, started_at, duration_seconds
    ), tags_gone AS (
        DELETE FROM livesite_result_tags WHERE seq IN (SELECT seq FROM gone)
    ), folded AS (
        INSERT INTO livesite_minutes
            (check_name, zone, minute, total, ok, degraded, failed, error, sum_duration, max_duration)
        SELECT check_name, zone, (floor(started_at / 60) * 60)::bigint AS bucket, {_COUNTS},
               max(duration_seconds)
        FROM gone GROUP BY check_name, zone, bucket
        ON CONFLICT (check_name, zone, minute) DO UPDATE SET
            total = livesite_minutes.total + excluded.total,
            ok = livesite_minutes.ok + excluded.ok,
            degraded = livesite_minutes.degraded + excluded.degraded,
            failed = livesite_minutes.failed + excluded.failed,
            error = livesite_minutes.error + excluded.error,
            sum_duration = livesite_minutes.sum_duration + excluded.sum_duration,
            max_duration = greatest(livesite_minutes.max_duration, excluded.max_duration)
    )
    SELECT count(*) FROM gone
"""

# Loose index scan: one index probe per distinct name instead of reading every row.
_DISTINCT_CHECKS = """
    WITH RECURSIVE names(name) AS (
        (SELECT check_name FROM {table} ORDER BY check_name LIMIT 1)
        UNION ALL
        SELECT (SELECT check_name FROM {table} WHERE check_name > name ORDER BY check_name LIMIT 1)
        FROM names WHERE name IS NOT NULL
    )
    SELECT name FROM names WHERE name IS NOT NULL
"""


class PostgresStore:
    """A :class:`~livesite.store.base.Store` in PostgreSQL.

    Open it with ``await PostgresStore.open(url)`` and ``await store.close()`` when done.
    """

    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        self._where = _safe(url)
        self._pool = pool

    @classmethod
    async def open(cls, url: str, *, min_size: int = 1, max_size: int = 4) -> PostgresStore:
        """Connect a pool to ``url`` and create or migrate the tables.

        Raises:
            StoreError: the server cannot be reached, refuses the login, or holds tables written by
                a newer livesite.
        """
        where = _safe(url)
        try:
            # A host that never answers would otherwise hold the caller for asyncpg's default 60 s.
            pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, timeout=10)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(
                f"cannot connect to the PostgreSQL store {where}: {exc}",
                hint="check that the server is running and the URL's user, host, port and database",
            ) from exc
        try:
            async with pool.acquire() as conn, conn.transaction():
                await _migrate(conn, where)
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, asyncpg.PostgresError):
                raise StoreError(
                    f"cannot prepare the PostgreSQL store {where}: {exc}",
                    hint="the user needs CREATE rights in the database to create livesite's tables",
                ) from exc
            raise
        return cls(url, pool)

    async def _run(self, job: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        try:
            async with self._pool.acquire() as conn:
                return await job(conn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(
                f"PostgreSQL store {self._where} failed: {exc}",
                hint="check that the server is up and has disk space",
            ) from exc

    async def run_job(self, job: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run ``job`` on a pooled connection: the hook for modules that keep their own tables and
        schema version in the same database (leases, ``store/leases.py``)."""
        return await self._run(job)

    async def add_results(self, results: Sequence[Result]) -> None:
        """Write a batch in one statement. A Result already stored (same id and started_at) is skipped."""
        if not results:
            return
        rows, tags = _rows.result_rows(results)
        columns = list(zip(*rows, strict=True))
        if tags:
            columns += list(zip(*tags, strict=True))

        async def job(conn: asyncpg.Connection) -> None:
            await conn.execute(_INSERT_RESULTS_AND_TAGS if tags else _INSERT_RESULTS, *columns)

        await self._run(job)

    async def add_events(self, events: Sequence[StateChange]) -> None:
        if not events:
            return
        columns = list(zip(*_rows.event_rows(events), strict=True))

        async def job(conn: asyncpg.Connection) -> None:
            await conn.execute(_INSERT_EVENTS, *columns)

        await self._run(job)

    async def results(self, query: ResultQuery) -> list[Result]:
        """Results matching ``query``, newest first; ``since`` is inclusive, ``until`` exclusive."""
        sql, params = _rows.results_sql(query, _rows.POSTGRES)

        async def job(conn: asyncpg.Connection) -> list[str]:
            return [row[0] for row in await conn.fetch(sql, *params)]

        return [Result.model_validate_json(record) for record in await self._run(job)]

    async def uptime(self, check: str, zone: str | None, since: datetime) -> Uptime:
        """Counts since ``since`` from raw results plus every aggregated minute that overlaps it."""
        since_epoch = _rows.epoch(since)
        zone_sql = "" if zone is None else " AND zone = $3"
        zone_params: tuple[str, ...] = () if zone is None else (zone,)
        raw_sql = (
            f"SELECT {_COUNTS} FROM livesite_results WHERE check_name = $1 AND started_at >= $2{zone_sql}"
        )
        minutes_sql = (
            "SELECT sum(total), sum(ok), sum(degraded), sum(failed), sum(error), sum(sum_duration) "
            f"FROM livesite_minutes WHERE check_name = $1 AND minute >= $2{zone_sql}"
        )

        async def job(conn: asyncpg.Connection) -> tuple[_rows.Counts, _rows.Counts]:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                raw = await conn.fetchrow(raw_sql, check, since_epoch, *zone_params)
                minutes = await conn.fetchrow(
                    minutes_sql, check, _rows.minute_floor(since_epoch), *zone_params
                )
            return _rows.counts_or_zero(raw), _rows.counts_or_zero(minutes)

        raw, minutes = await self._run(job)
        return _rows.uptime_from(check, zone, since, raw, minutes)

    async def events(self, check: str | None = None, limit: int = 100) -> list[StateChange]:
        """State changes, newest first, optionally for one check."""
        if check is None:
            sql = "SELECT record::text FROM livesite_events ORDER BY at DESC, seq DESC LIMIT $1"
            params: tuple[object, ...] = (max(limit, 0),)
        else:
            sql = (
                "SELECT record::text FROM livesite_events WHERE check_name = $1 "
                "ORDER BY at DESC, seq DESC LIMIT $2"
            )
            params = (check, max(limit, 0))

        async def job(conn: asyncpg.Connection) -> list[str]:
            return [row[0] for row in await conn.fetch(sql, *params)]

        return [StateChange.model_validate_json(record) for record in await self._run(job)]

    async def samples(self, query: SampleQuery) -> list[Samples]:
        """Latency samples and failure counts per group and bucket; see :class:`SampleQuery`."""
        counts_sql, counts_params, durations_sql, durations_params = _rows.samples_sql(query, _rows.POSTGRES)

        async def job(
            conn: asyncpg.Connection,
        ) -> tuple[list[tuple[str, int, int, int]], list[tuple[str, int, float]]]:
            # One snapshot: the durations come from the same rows as the counts.
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                counts = [tuple(row) for row in await conn.fetch(counts_sql, *counts_params)]
                durations = (
                    [tuple(row) for row in await conn.fetch(durations_sql, *durations_params)]
                    if query.limit
                    else []
                )
            return counts, durations

        counts, durations = await self._run(job)
        return _rows.samples_from(query, counts, durations)

    async def latest_states(self) -> list[StateChange]:
        """The newest state change of each (check, zone), sorted by check then zone."""
        sql = _rows.latest_states_sql(_rows.POSTGRES)

        async def job(conn: asyncpg.Connection) -> list[str]:
            return [row[0] for row in await conn.fetch(sql)]

        changes = [StateChange.model_validate_json(record) for record in await self._run(job)]
        # Sorted here, not by the database's collation, so both stores agree.
        return sorted(changes, key=lambda change: (change.check, change.zone))

    async def checks(self) -> list[str]:
        """Names of every check with raw results or aggregates, sorted."""

        async def job(conn: asyncpg.Connection) -> list[str]:
            names: set[str] = set()
            for table in ("livesite_results", "livesite_minutes"):
                names.update(row[0] for row in await conn.fetch(_DISTINCT_CHECKS.format(table=table)))
            return sorted(names)

        return await self._run(job)

    async def compact(
        self, now: datetime, raw_retention_seconds: float, aggregate_retention_seconds: float
    ) -> Compaction:
        """Fold raw results older than the raw retention into per-minute aggregates and delete them
        with their tags; delete aggregates and state changes older than the aggregate retention,
        except the newest state change of each (check, zone).

        Each chunk is folded and deleted in one statement, so running it again, concurrently or
        after a crash never counts a result twice.
        """
        now_epoch = _rows.epoch(now)
        raw_cutoff = now_epoch - raw_retention_seconds
        aggregate_cutoff = now_epoch - aggregate_retention_seconds

        async def chunk(conn: asyncpg.Connection) -> int:
            return int(await conn.fetchval(_ROLL_UP, raw_cutoff, _rows.COMPACT_CHUNK_ROWS))

        async def finish(conn: asyncpg.Connection) -> tuple[int, int]:
            minutes = await conn.execute("DELETE FROM livesite_minutes WHERE minute < $1", aggregate_cutoff)
            events = await conn.execute(_rows.old_events_sql(_rows.POSTGRES), aggregate_cutoff)
            return int(minutes.split()[-1]), int(events.split()[-1])  # "DELETE <count>"

        return await _rows.compact_in_chunks(lambda: self._run(chunk), lambda: self._run(finish))

    async def close(self) -> None:
        """Close the pool, waiting for queries in flight. Closing twice is harmless."""
        await self._pool.close()


async def _migrate(conn: asyncpg.Connection, where: str) -> None:
    # Serialise migrations across processes that open the same database at the same moment.
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
    await conn.execute("CREATE TABLE IF NOT EXISTS livesite_schema_version (version integer NOT NULL)")
    current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM livesite_schema_version")
    if current > _rows.SCHEMA_VERSION:
        raise _rows.newer_schema(current, where)
    for version in range(current + 1, _rows.SCHEMA_VERSION + 1):
        migration = _MIGRATIONS[version]
        if isinstance(migration, str):
            await conn.execute(migration)
        else:
            await migration(conn)
        await conn.execute("INSERT INTO livesite_schema_version (version) VALUES ($1)", version)


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}@{host}"
