"""Partner incidents in the results store's file or database, in a table of their own.

The incident record is one JSON document (:class:`~livesite.incidents.PartnerIncident`) keyed by
its id, with the columns a reader filters on beside it. Saving is an upsert, so the monitor saves
the record on every change and a crash loses at most the change in flight; on start it reads the
open incidents back, so a restart continues an outage instead of opening a second record for it.

The table carries its own version (``store/_components.py``), apart from the results schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Protocol

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

from livesite.incidents import PartnerIncident
from livesite.store._components import postgres_create, sqlite_create
from livesite.store.postgres import PostgresStore
from livesite.store.sqlite import SqliteStore

COMPONENT = "partner_incidents"
VERSION = 1

_TABLE = """
    CREATE TABLE IF NOT EXISTS partner_incidents (
        id TEXT PRIMARY KEY,
        partner TEXT NOT NULL,
        state TEXT NOT NULL,
        opened_at DOUBLE PRECISION NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS partner_incidents_by_partner ON partner_incidents (partner, opened_at);
    CREATE INDEX IF NOT EXISTS partner_incidents_open ON partner_incidents (state, opened_at);
"""
_UPSERT = (
    "INSERT INTO partner_incidents (id, partner, state, opened_at, record) VALUES ({}) "
    "ON CONFLICT (id) DO UPDATE SET state = excluded.state, record = excluded.record"
)


class IncidentStore(Protocol):
    async def save_incidents(self, incidents: Sequence[PartnerIncident]) -> None: ...

    async def incidents(
        self, partner: str | None = None, *, open_only: bool = False, limit: int = 100
    ) -> list[PartnerIncident]:
        """Newest first."""
        ...


def _row(incident: PartnerIncident) -> tuple[str, str, str, float, str]:
    return (
        incident.id,
        incident.partner,
        incident.state,
        incident.opened_at.timestamp(),
        incident.model_dump_json(),
    )


def _where(partner: str | None, open_only: bool, mark: str) -> tuple[str, list[object]]:
    clauses, args = [], list[object]()
    if partner is not None:
        args.append(partner)
        clauses.append(f"partner = {mark.format(len(args))}")
    if open_only:
        clauses.append("state = 'open'")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


class SqliteIncidents:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self._ready = False

    async def _ensure(self) -> None:
        if self._ready:
            return

        await self.store.run(lambda db: sqlite_create(db, COMPONENT, VERSION, _TABLE))
        self._ready = True

    async def save_incidents(self, incidents: Sequence[PartnerIncident]) -> None:
        await self._ensure()
        rows = [_row(i) for i in incidents]

        def save(db: sqlite3.Connection) -> None:
            with db:
                db.executemany(_UPSERT.format("?, ?, ?, ?, ?"), rows)

        await self.store.run(save)

    async def incidents(
        self, partner: str | None = None, *, open_only: bool = False, limit: int = 100
    ) -> list[PartnerIncident]:
        await self._ensure()
        where, args = _where(partner, open_only, "?")
        sql = f"SELECT record FROM partner_incidents{where} ORDER BY opened_at DESC LIMIT ?"

        def read(db: sqlite3.Connection) -> list[str]:
            return [r[0] for r in db.execute(sql, (*args, limit))]

        return [PartnerIncident.model_validate_json(r) for r in await self.store.run(read)]


class PostgresIncidents:
    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self._ready = False

    async def _ensure(self) -> None:
        if self._ready:
            return

        await self.store.run(lambda conn: postgres_create(conn, COMPONENT, VERSION, _TABLE))
        self._ready = True

    async def save_incidents(self, incidents: Sequence[PartnerIncident]) -> None:
        await self._ensure()
        rows = [_row(i) for i in incidents]

        async def save(conn: asyncpg.Connection) -> None:
            await conn.executemany(_UPSERT.format("$1, $2, $3, $4, $5"), rows)

        await self.store.run(save)

    async def incidents(
        self, partner: str | None = None, *, open_only: bool = False, limit: int = 100
    ) -> list[PartnerIncident]:
        await self._ensure()
        where, args = _where(partner, open_only, "${}")
        sql = f"SELECT record FROM partner_incidents{where} ORDER BY opened_at DESC LIMIT ${len(args) + 1}"

        async def read(conn: asyncpg.Connection) -> list[str]:
            return [r[0] for r in await conn.fetch(sql, *args, limit)]

        return [PartnerIncident.model_validate_json(r) for r in await self.store.run(read)]


def incidents_of(store: object) -> IncidentStore | None:
    """The incident store that lives beside a results store (None beside a store of another kind,
    such as a test's in-memory one: incidents are then kept in memory only)."""
    if isinstance(store, SqliteStore):
        return SqliteIncidents(store)
    if isinstance(store, PostgresStore):
        return PostgresIncidents(store)
    return None
