"""Leases: who holds a resource until when, held in the store so they hold across processes.

A lease names a resource of a kind ("user" for a fake user; a chaos fault later) taken by a holder
until a deadline. Whoever holds it renews it while working and releases it when done; a holder that
crashed simply stops renewing, and its lease expires at the deadline, so nothing is held forever.
:meth:`Leases.acquire` takes the first free one of several candidates in one transaction, so two
processes never both win the same resource.

Each implementation keeps its own table and its own schema version (``lease_schema`` /
``livesite_lease_schema``) in the results store's database, apart from the results schema, and
runs on the store's own connection (``SqliteStore.run_job``, ``PostgresStore.run_job``). Both pass
``livesite.testing.lease_conformance``.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from pydantic import JsonValue

from livesite.errors import StoreError
from livesite.store.postgres import PostgresStore
from livesite.store.sqlite import SqliteStore

T = TypeVar("T")

LEASE_SCHEMA_VERSION = 1
_PG_LOCK_SPACE = 0x6C656173  # pg_advisory_xact_lock(space, hashtext(kind)): "leas"


@dataclass(frozen=True, slots=True)
class Lease:
    """A resource of ``kind`` held by ``holder`` until ``expires_at`` (unix seconds).

    ``token`` tells this taking of the resource apart from later ones: renewing or releasing with a
    lease that expired and was taken by someone else does nothing.
    """

    kind: str
    resource: str
    holder: str
    token: str
    acquired_at: float
    expires_at: float
    payload: JsonValue = None  # what the holder wants written down with it (a fault to revert)

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


class Leases(Protocol):
    """The lease store: acquire one of N resources atomically, renew, release, list."""

    async def acquire(
        self,
        kind: str,
        candidates: Sequence[str],
        holder: str,
        *,
        ttl_seconds: float,
        now: float,
        payload: JsonValue = None,
    ) -> Lease | None:
        """Take the first of ``candidates`` that nobody holds (or whose lease expired); None if all
        are held."""
        ...

    async def renew(self, lease: Lease, *, ttl_seconds: float, now: float) -> Lease | None:
        """Push the deadline of a lease still held to ``now + ttl_seconds``; None if it was lost."""
        ...

    async def release(self, lease: Lease) -> bool:
        """Give a lease back; False if it was no longer this holder's (expired and taken again)."""
        ...

    async def active(self, kind: str | None = None, *, now: float, expired: bool = False) -> list[Lease]:
        """Leases held at ``now`` (with ``expired``: also those past their deadline, never released),
        by kind then resource."""
        ...


def _lease(row: Sequence[object]) -> Lease:
    kind, resource, holder, token, acquired_at, expires_at, payload = row
    return Lease(
        kind=str(kind),
        resource=str(resource),
        holder=str(holder),
        token=str(token),
        acquired_at=float(acquired_at),  # type: ignore[arg-type]
        expires_at=float(expires_at),  # type: ignore[arg-type]
        payload=json.loads(str(payload)) if payload else None,
    )


def _check_ttl(ttl_seconds: float) -> None:
    if not ttl_seconds > 0:
        raise ValueError(f"a lease needs a positive ttl_seconds, not {ttl_seconds!r}")


_COLUMNS = "kind, resource, holder, token, acquired_at, expires_at, payload"

_SQLITE_TABLE = """
    CREATE TABLE leases (
        kind TEXT NOT NULL,
        resource TEXT NOT NULL,
        holder TEXT NOT NULL,
        token TEXT NOT NULL,
        acquired_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        payload TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (kind, resource)
    ) WITHOUT ROWID
"""


class SqliteLeases:
    """Leases in the SQLite store's file, on its worker thread; ``BEGIN IMMEDIATE`` makes each
    acquire one writer at a time across processes (the store's busy timeout bounds the wait)."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    @classmethod
    async def open(cls, store: SqliteStore) -> SqliteLeases:
        def migrate(db: sqlite3.Connection) -> None:
            _immediate(db, lambda: _sqlite_migrate(db, str(store.path)))

        await store.run_job(migrate)
        return cls(store)

    async def acquire(
        self,
        kind: str,
        candidates: Sequence[str],
        holder: str,
        *,
        ttl_seconds: float,
        now: float,
        payload: JsonValue = None,
    ) -> Lease | None:
        _check_ttl(ttl_seconds)
        if not candidates:
            return None
        text = json.dumps(payload) if payload is not None else ""

        def take(db: sqlite3.Connection) -> Lease | None:
            busy = {
                row[0]
                for row in db.execute(
                    "SELECT resource FROM leases WHERE kind = ? AND expires_at > ?", (kind, now)
                )
            }
            free = next((c for c in candidates if c not in busy), None)
            if free is None:
                return None
            lease = Lease(kind, free, holder, uuid.uuid4().hex, now, now + ttl_seconds, payload)
            db.execute(
                f"INSERT OR REPLACE INTO leases ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, free, holder, lease.token, now, lease.expires_at, text),
            )
            return lease

        return await self._store.run_job(lambda db: _immediate(db, lambda: take(db)))

    async def renew(self, lease: Lease, *, ttl_seconds: float, now: float) -> Lease | None:
        _check_ttl(ttl_seconds)
        expires_at = now + ttl_seconds

        def job(db: sqlite3.Connection) -> int:
            with db:
                return db.execute(
                    "UPDATE leases SET expires_at = ? WHERE kind = ? AND resource = ? AND token = ? "
                    "AND expires_at > ?",
                    (expires_at, lease.kind, lease.resource, lease.token, now),
                ).rowcount

        changed = await self._store.run_job(job)
        return _renewed(lease, expires_at) if changed else None

    async def release(self, lease: Lease) -> bool:
        def job(db: sqlite3.Connection) -> int:
            with db:
                return db.execute(
                    "DELETE FROM leases WHERE kind = ? AND resource = ? AND token = ?",
                    (lease.kind, lease.resource, lease.token),
                ).rowcount

        return bool(await self._store.run_job(job))

    async def active(self, kind: str | None = None, *, now: float, expired: bool = False) -> list[Lease]:
        sql = f"SELECT {_COLUMNS} FROM leases WHERE (? IS NULL OR kind = ?)"
        params: tuple[object, ...] = (kind, kind)
        if not expired:
            sql += " AND expires_at > ?"
            params += (now,)

        def job(db: sqlite3.Connection) -> list[Lease]:
            return [_lease(row) for row in db.execute(sql + " ORDER BY kind, resource", params)]

        return await self._store.run_job(job)


def _renewed(lease: Lease, expires_at: float) -> Lease:
    return Lease(
        lease.kind, lease.resource, lease.holder, lease.token, lease.acquired_at, expires_at, lease.payload
    )


def _immediate(db: sqlite3.Connection, work: Callable[[], T]) -> T:
    db.execute("BEGIN IMMEDIATE")
    try:
        value = work()
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return value


def _sqlite_migrate(db: sqlite3.Connection, where: str) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS lease_schema (version INTEGER NOT NULL)")
    row = db.execute("SELECT max(version) FROM lease_schema").fetchone()
    current = int(row[0]) if row and row[0] is not None else 0
    if current > LEASE_SCHEMA_VERSION:
        raise _newer(current, where)
    if current < 1:
        db.execute(_SQLITE_TABLE)
        db.execute("INSERT INTO lease_schema (version) VALUES (1)")


def _newer(current: int, where: str) -> StoreError:
    return StoreError(
        f"the leases in {where} are at schema {current}, newer than this livesite ({LEASE_SCHEMA_VERSION})",
        hint="upgrade livesite on this host, or point it at another store",
    )


_PG_TABLE = """
    CREATE TABLE livesite_leases (
        kind text NOT NULL,
        resource text NOT NULL,
        holder text NOT NULL,
        token text NOT NULL,
        acquired_at double precision NOT NULL,
        expires_at double precision NOT NULL,
        payload text NOT NULL DEFAULT '',
        PRIMARY KEY (kind, resource)
    );
"""


class PostgresLeases:
    """Leases in the PostgreSQL store's database; acquires of one kind take a transaction-scoped
    advisory lock, so they run one at a time across every process and host."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    @classmethod
    async def open(cls, store: PostgresStore) -> PostgresLeases:
        async def migrate(conn: asyncpg.Connection) -> None:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", _PG_LOCK_SPACE)
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS livesite_lease_schema (version integer NOT NULL)"
                )
                current = await conn.fetchval("SELECT max(version) FROM livesite_lease_schema") or 0
                if current > LEASE_SCHEMA_VERSION:
                    raise _newer(int(current), "the PostgreSQL store")
                if current < 1:
                    await conn.execute(_PG_TABLE)
                    await conn.execute("INSERT INTO livesite_lease_schema (version) VALUES (1)")

        await store.run_job(migrate)
        return cls(store)

    async def acquire(
        self,
        kind: str,
        candidates: Sequence[str],
        holder: str,
        *,
        ttl_seconds: float,
        now: float,
        payload: JsonValue = None,
    ) -> Lease | None:
        _check_ttl(ttl_seconds)
        if not candidates:
            return None
        text = json.dumps(payload) if payload is not None else ""

        async def take(conn: asyncpg.Connection) -> Lease | None:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _PG_LOCK_SPACE, kind)
                rows = await conn.fetch(
                    "SELECT resource FROM livesite_leases WHERE kind = $1 AND expires_at > $2", kind, now
                )
                busy = {row[0] for row in rows}
                free = next((c for c in candidates if c not in busy), None)
                if free is None:
                    return None
                lease = Lease(kind, free, holder, uuid.uuid4().hex, now, now + ttl_seconds, payload)
                await conn.execute(
                    f"INSERT INTO livesite_leases ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                    "ON CONFLICT (kind, resource) DO UPDATE SET holder = excluded.holder, "
                    "token = excluded.token, acquired_at = excluded.acquired_at, "
                    "expires_at = excluded.expires_at, payload = excluded.payload",
                    kind,
                    free,
                    holder,
                    lease.token,
                    now,
                    lease.expires_at,
                    text,
                )
                return lease

        return await self._store.run_job(take)

    async def renew(self, lease: Lease, *, ttl_seconds: float, now: float) -> Lease | None:
        _check_ttl(ttl_seconds)
        expires_at = now + ttl_seconds

        async def job(conn: asyncpg.Connection) -> str:
            return str(
                await conn.execute(
                    "UPDATE livesite_leases SET expires_at = $1 WHERE kind = $2 AND resource = $3 "
                    "AND token = $4 AND expires_at > $5",
                    expires_at,
                    lease.kind,
                    lease.resource,
                    lease.token,
                    now,
                )
            )

        status = await self._store.run_job(job)
        return _renewed(lease, expires_at) if status.endswith(" 1") else None

    async def release(self, lease: Lease) -> bool:
        async def job(conn: asyncpg.Connection) -> str:
            return str(
                await conn.execute(
                    "DELETE FROM livesite_leases WHERE kind = $1 AND resource = $2 AND token = $3",
                    lease.kind,
                    lease.resource,
                    lease.token,
                )
            )

        return (await self._store.run_job(job)).endswith(" 1")

    async def active(self, kind: str | None = None, *, now: float, expired: bool = False) -> list[Lease]:
        sql = f"SELECT {_COLUMNS} FROM livesite_leases WHERE ($1::text IS NULL OR kind = $1)"
        params: list[object] = [kind]
        if not expired:
            sql += " AND expires_at > $2"
            params.append(now)

        async def job(conn: asyncpg.Connection) -> list[Lease]:
            return [_lease(tuple(row)) for row in await conn.fetch(sql + " ORDER BY kind, resource", *params)]

        return await self._store.run_job(job)


async def open_leases(store: object) -> Leases:
    """The lease store living in ``store``'s database (creating its table on first use).

    Raises:
        StoreError: the store is of a kind without leases, or its lease table is newer than this livesite.
    """
    if isinstance(store, SqliteStore):
        return await SqliteLeases.open(store)
    if isinstance(store, PostgresStore):
        return await PostgresLeases.open(store)
    raise StoreError(f"{type(store).__name__} keeps no leases", hint="use a sqlite:// or postgresql:// store")
