"""The embedded default store: one SQLite file, used from one dedicated thread.

Every statement runs on a single worker thread, so the event loop never blocks on disk and the
connection never crosses threads. The file is in WAL mode with ``synchronous=NORMAL``: a killed
process loses nothing that was committed, and only a power loss can drop the last transactions.
Results keep their indexed columns next to the full JSON record, so reading one back gives the
identical :class:`~livesite.results.Result`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from livesite.errors import NoStoreError, StoreError
from livesite.results import Result
from livesite.states import StateChange
from livesite.store import _rows, _upgrade
from livesite.store.base import Compaction, ResultQuery, SampleQuery, Samples, Uptime

T = TypeVar("T")

_SCHEMA_3_TABLES = """
    ALTER TABLE results ADD COLUMN user_name TEXT NOT NULL DEFAULT '';
    -- One row per tag of a Result, keyed by the Result's seq so compaction deletes a chunk's tags
    -- by range. Results without tags (most) cost nothing here.
    CREATE TABLE result_tags (
        seq INTEGER NOT NULL,
        started_at REAL NOT NULL,
        tag TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (seq, tag)
    ) WITHOUT ROWID
"""

# Built after the records are rewritten: one sort per index instead of index updates per row.
# Each holds only the rows that have a value (see _rows.where); ok, the bulk of all Results, is
# left out of the status index, since reading in time order finds ok Results at once.
_SCHEMA_3_INDEXES = """
    CREATE INDEX result_tags_match ON result_tags (tag, value, started_at);
    CREATE INDEX results_revision_time ON results (revision, started_at) WHERE revision <> '';
    CREATE INDEX results_cohort_time ON results (cohort, started_at) WHERE cohort <> '';
    CREATE INDEX results_user_time ON results (user_name, started_at) WHERE user_name <> '';
    CREATE INDEX results_status_time ON results (status, started_at) WHERE status <> 'ok'
"""


def _schema_3(db: sqlite3.Connection) -> None:
    """HTTP facts move into an observation (every stored record is rewritten, see store/_upgrade.py);
    a user column, a tags table and indexes for every ResultQuery filter."""
    _script(db, _SCHEMA_3_TABLES)
    after = 0
    while True:
        rows = db.execute(
            "SELECT seq, started_at, record FROM results WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, _rows.UPGRADE_CHUNK_ROWS),
        ).fetchall()
        if not rows:
            break
        rewrites, tags = _upgrade.upgrade_rows(rows)
        db.executemany("UPDATE results SET record = ?, user_name = ? WHERE seq = ?", rewrites)
        db.executemany("INSERT INTO result_tags (seq, started_at, tag, value) VALUES (?, ?, ?, ?)", tags)
        after = rows[-1][0]
    _script(db, _SCHEMA_3_INDEXES)


def _script(db: sqlite3.Connection, statements: str) -> None:
    # Not executescript: it commits first, and migrations run inside one BEGIN IMMEDIATE.
    for statement in statements.split(";"):
        if statement.strip():
            db.execute(statement)


Migration = str | Callable[[sqlite3.Connection], None]

_MIGRATIONS: dict[int, Migration] = {
    1: """
        CREATE TABLE results (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            check_name TEXT NOT NULL,
            zone TEXT NOT NULL,
            cohort TEXT NOT NULL,
            revision TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at REAL NOT NULL,
            duration_seconds REAL NOT NULL,
            record TEXT NOT NULL
        );
        -- Unique so a retried batch is stored once. Keyed by time first, it grows at its end
        -- like the table does: a unique index on the random id alone cost 3x the CPU per insert.
        CREATE UNIQUE INDEX results_time_id ON results (started_at, id);
        CREATE INDEX results_check_time ON results (check_name, started_at);
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            check_name TEXT NOT NULL,
            zone TEXT NOT NULL,
            at REAL NOT NULL,
            record TEXT NOT NULL
        );
        CREATE INDEX events_check_time ON events (check_name, at);
        CREATE INDEX events_time ON events (at);
        CREATE TABLE minutes (
            check_name TEXT NOT NULL,
            zone TEXT NOT NULL,
            minute INTEGER NOT NULL,
            total INTEGER NOT NULL,
            ok INTEGER NOT NULL,
            degraded INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            error INTEGER NOT NULL,
            sum_duration REAL NOT NULL,
            max_duration REAL NOT NULL,
            PRIMARY KEY (check_name, zone, minute)
        ) WITHOUT ROWID;
        CREATE INDEX minutes_minute ON minutes (minute);
    """,
    # A check changes state in a zone at most once per result, so (check, zone, at) names an event:
    # unique, a retried event batch is stored once, as results are. Duplicates already stored go first.
    2: """
        DELETE FROM events WHERE seq NOT IN (SELECT min(seq) FROM events GROUP BY check_name, zone, at);
        CREATE UNIQUE INDEX events_once ON events (check_name, zone, at);
    """,
    3: _schema_3,
}

_INSERT_RESULT = """
    INSERT OR IGNORE INTO results
        (id, check_name, zone, user_name, cohort, revision, status, started_at, duration_seconds, record)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

# By (started_at, id), the unique key, so a retried batch finds the Result stored the first time
# and the tag is stored once.
_INSERT_TAG = """
    INSERT OR IGNORE INTO result_tags (seq, started_at, tag, value)
    SELECT seq, started_at, ?3, ?4 FROM results WHERE started_at = ?1 AND id = ?2
"""

_COUNTS = """
    count(*), sum(status = 'ok'), sum(status = 'degraded'), sum(status = 'failed'),
    sum(status = 'error'), sum(duration_seconds)
"""

# The oldest chunk of raw results past the cutoff, in a fixed order so both statements below
# see exactly the same rows inside one transaction.
_CHUNK = "SELECT seq FROM results WHERE started_at < ? ORDER BY started_at, id LIMIT ?"

_ROLL_UP = f"""
    INSERT INTO minutes
        (check_name, zone, minute, total, ok, degraded, failed, error, sum_duration, max_duration)
    SELECT check_name, zone, CAST(started_at / 60 AS INTEGER) * 60 AS bucket, {_COUNTS},
           max(duration_seconds)
    FROM results WHERE seq IN ({_CHUNK})
    GROUP BY check_name, zone, bucket
    ON CONFLICT (check_name, zone, minute) DO UPDATE SET
        total = total + excluded.total,
        ok = ok + excluded.ok,
        degraded = degraded + excluded.degraded,
        failed = failed + excluded.failed,
        error = error + excluded.error,
        sum_duration = sum_duration + excluded.sum_duration,
        max_duration = max(max_duration, excluded.max_duration)
"""

# Skip scan: one index probe per distinct name instead of reading every row.
_DISTINCT_CHECKS = """
    WITH RECURSIVE names(name) AS (
        SELECT min(check_name) FROM {table}
        UNION ALL
        SELECT (SELECT min(check_name) FROM {table} WHERE check_name > name) FROM names
        WHERE name IS NOT NULL
    )
    SELECT name FROM names WHERE name IS NOT NULL
"""


class SqliteStore:
    """A :class:`~livesite.store.base.Store` in one SQLite file.

    Open it with ``await SqliteStore.open(path)`` and ``await store.close()`` when done.
    """

    def __init__(self, path: Path, executor: ThreadPoolExecutor, connection: sqlite3.Connection) -> None:
        self.path = path
        self._executor = executor
        self._db = connection
        self._closed = False

    @classmethod
    async def open(cls, path: Path, *, create: bool = True) -> SqliteStore:
        """Open (or create) the store at ``path``, creating parent folders and migrating the schema.

        Raises:
            StoreError: the path cannot be written, the file is not a SQLite database, it was
                written by a newer livesite, or it does not exist and ``create`` is false.
        """
        if not create and not await asyncio.to_thread(path.exists):
            raise NoStoreError(
                f"no results store at {path}",
                hint="`livesite monitor` or `livesite check --store URL` writes one; "
                "pass --store URL or --config FILE to read another",
            )
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livesite-sqlite")
        try:
            connection = await asyncio.get_running_loop().run_in_executor(executor, _connect, path)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(path, executor, connection)

    async def _run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, job, self._db)
        except sqlite3.Error as exc:
            raise StoreError(
                f"SQLite store {self.path} failed: {exc}",
                hint="check free disk space and that no other program holds a lock on the file",
            ) from exc
        except RuntimeError as exc:  # the executor refuses work once the store is closed
            raise StoreError(f"SQLite store {self.path} is closed") from exc

    async def run_job(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` on the store's worker thread with its connection: the hook for modules that keep
        their own tables and schema version in the same file (leases, ``store/leases.py``)."""
        return await self._run(job)

    async def add_results(self, results: Sequence[Result]) -> None:
        """Write a batch in one transaction. A Result already stored (same id and started_at) is skipped."""
        if not results:
            return

        def job(db: sqlite3.Connection) -> None:
            rows, tags = _rows.result_rows(results)  # serialised here, off the event loop
            with db:
                db.executemany(_INSERT_RESULT, rows)
                if tags:
                    db.executemany(_INSERT_TAG, tags)

        await self._run(job)

    async def add_events(self, events: Sequence[StateChange]) -> None:
        if not events:
            return

        def job(db: sqlite3.Connection) -> None:
            with db:
                db.executemany(
                    "INSERT OR IGNORE INTO events (check_name, zone, at, record) VALUES (?, ?, ?, ?)",
                    _rows.event_rows(events),
                )

        await self._run(job)

    async def results(self, query: ResultQuery) -> list[Result]:
        """Results matching ``query``, newest first; ``since`` is inclusive, ``until`` exclusive."""
        sql, params = _rows.results_sql(query, _rows.SQLITE)

        def job(db: sqlite3.Connection) -> list[str]:
            return [row[0] for row in db.execute(sql, params)]

        return [Result.model_validate_json(record) for record in await self._run(job)]

    async def uptime(self, check: str, zone: str | None, since: datetime) -> Uptime:
        """Counts since ``since`` from raw results plus every aggregated minute that overlaps it."""
        since_epoch = _rows.epoch(since)
        zone_sql = "" if zone is None else " AND zone = ?"
        zone_params: tuple[str, ...] = () if zone is None else (zone,)
        raw_sql = f"SELECT {_COUNTS} FROM results WHERE check_name = ? AND started_at >= ?{zone_sql}"
        minutes_sql = (
            "SELECT sum(total), sum(ok), sum(degraded), sum(failed), sum(error), sum(sum_duration) "
            f"FROM minutes WHERE check_name = ? AND minute >= ?{zone_sql}"
        )

        def job(db: sqlite3.Connection) -> tuple[_rows.Counts, _rows.Counts]:
            raw = db.execute(raw_sql, (check, since_epoch, *zone_params)).fetchone()
            minutes = db.execute(
                minutes_sql, (check, _rows.minute_floor(since_epoch), *zone_params)
            ).fetchone()
            return _rows.counts_or_zero(raw), _rows.counts_or_zero(minutes)

        raw, minutes = await self._run(job)
        return _rows.uptime_from(check, zone, since, raw, minutes)

    async def events(self, check: str | None = None, limit: int = 100) -> list[StateChange]:
        """State changes, newest first, optionally for one check."""
        where, params = ("", ()) if check is None else ("WHERE check_name = ?", (check,))
        sql = f"SELECT record FROM events {where} ORDER BY at DESC, seq DESC LIMIT ?"

        def job(db: sqlite3.Connection) -> list[str]:
            return [row[0] for row in db.execute(sql, (*params, max(limit, 0)))]

        return [StateChange.model_validate_json(record) for record in await self._run(job)]

    async def samples(self, query: SampleQuery) -> list[Samples]:
        """Latency samples and failure counts per group and bucket; see :class:`SampleQuery`."""
        counts_sql, counts_params, durations_sql, durations_params = _rows.samples_sql(query, _rows.SQLITE)

        def job(
            db: sqlite3.Connection,
        ) -> tuple[list[tuple[str, int, int, int]], list[tuple[str, int, float]]]:
            # One read transaction: the durations come from the same rows as the counts.
            db.execute("BEGIN")
            try:
                counts = db.execute(counts_sql, counts_params).fetchall()
                durations = db.execute(durations_sql, durations_params).fetchall() if query.limit else []
            finally:
                db.execute("COMMIT")
            return counts, durations

        counts, durations = await self._run(job)
        return _rows.samples_from(query, counts, durations)

    async def latest_states(self) -> list[StateChange]:
        """The newest state change of each (check, zone), sorted by check then zone."""
        sql = _rows.latest_states_sql(_rows.SQLITE)

        def job(db: sqlite3.Connection) -> list[str]:
            return [row[0] for row in db.execute(sql)]

        changes = [StateChange.model_validate_json(record) for record in await self._run(job)]
        # Sorted here, not by the database's collation, so both stores agree.
        return sorted(changes, key=lambda change: (change.check, change.zone))

    async def checks(self) -> list[str]:
        """Names of every check with raw results or aggregates, sorted."""

        def job(db: sqlite3.Connection) -> list[str]:
            names: set[str] = set()
            for table in ("results", "minutes"):
                names.update(row[0] for row in db.execute(_DISTINCT_CHECKS.format(table=table)))
            return sorted(names)

        return await self._run(job)

    async def compact(
        self, now: datetime, raw_retention_seconds: float, aggregate_retention_seconds: float
    ) -> Compaction:
        """Fold raw results older than the raw retention into per-minute aggregates and delete them
        with their tags; delete aggregates and state changes older than the aggregate retention,
        except the newest state change of each (check, zone).

        Works in chunks of a few ten thousand rows, one transaction each, so writers queued on the
        same thread get their turn in between. Running it again, or after a crash, is safe: a
        chunk is folded and deleted atomically, and folding adds to an existing minute.
        """
        now_epoch = _rows.epoch(now)
        raw_cutoff = now_epoch - raw_retention_seconds
        aggregate_cutoff = now_epoch - aggregate_retention_seconds

        def chunk(db: sqlite3.Connection) -> int:
            params = (raw_cutoff, _rows.COMPACT_CHUNK_ROWS)
            with db:
                db.execute(_ROLL_UP, params)
                db.execute(f"DELETE FROM result_tags WHERE seq IN ({_CHUNK})", params)
                return db.execute(f"DELETE FROM results WHERE seq IN ({_CHUNK})", params).rowcount

        def finish(db: sqlite3.Connection) -> tuple[int, int]:
            with db:
                deleted = db.execute("DELETE FROM minutes WHERE minute < ?", (aggregate_cutoff,)).rowcount
                events = db.execute(_rows.old_events_sql(_rows.SQLITE), (aggregate_cutoff,)).rowcount
            # Hand the freed pages back to the main file so the WAL does not keep the old size.
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            return deleted, events

        return await _rows.compact_in_chunks(lambda: self._run(chunk), lambda: self._run(finish))

    async def close(self) -> None:
        """Close the connection and stop the worker thread. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
        self._executor.shutdown(wait=True)


def _connect(path: Path) -> sqlite3.Connection:
    """Runs on the worker thread: open, tune and migrate, turning every failure into a StoreError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder for the SQLite store {path}: {exc.strerror or exc}",
            hint="choose a path in a folder livesite can write to",
        ) from exc
    try:
        db = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot open the SQLite store {path}: {exc}",
            hint="check that the path is a file livesite can read and write",
        ) from exc
    try:
        _tune_and_migrate(db, path)
    except StoreError:
        db.close()
        raise
    except sqlite3.Error as exc:
        db.close()
        message = str(exc)
        if "not a database" in message:
            raise StoreError(
                f"{path} is not a livesite store: {message}",
                hint="point the store URL at a new file or at a store livesite created",
            ) from exc
        raise StoreError(
            f"cannot open the SQLite store {path}: {message}",
            hint="check that the file and its folder are writable and the disk is not full",
        ) from exc
    # Autocommit mode off from here on: ``with db:`` wraps each write batch in one transaction.
    db.isolation_level = "DEFERRED"
    return db


def _tune_and_migrate(db: sqlite3.Connection, path: Path) -> None:
    # 4 KB pages, SQLite's default, said explicitly: 16 KB pages packed rows of ~1 KB better (1,484 ->
    # 1,212 bytes per row, bench/store_cost.py) but every commit then writes whole 16 KB pages to the
    # WAL, which cost 31,000 instructions per stored probe, 4% (bench/probe_instructions.py --store);
    # CPU per probe is the goal we hold (bench/RESULTS.md), disk is cheap. New files only.
    db.execute("PRAGMA page_size = 4096")
    db.execute("PRAGMA busy_timeout = 5000")  # a CLI reading the file must not fail the monitor's write
    db.execute("PRAGMA journal_mode = WAL").fetchall()
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("BEGIN IMMEDIATE")  # two processes opening a new file must not both migrate it
    try:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT max(version) FROM schema_version").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        if current > _rows.SCHEMA_VERSION:
            raise _rows.newer_schema(current, str(path))
        for version in range(current + 1, _rows.SCHEMA_VERSION + 1):
            migration = _MIGRATIONS[version]
            if isinstance(migration, str):
                _script(db, migration)
            else:
                migration(db)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
