"""The monkey's events, beside the results: every kill recorded before it happens, every skip with why."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Literal, Protocol

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from pydantic import BaseModel, ConfigDict, Field

from livesite.ids import new_id
from livesite.store._components import postgres_create, sqlite_create
from livesite.store.postgres import PostgresStore
from livesite.store.sqlite import SqliteStore

COMPONENT, VERSION = "monkey_events", 1
_TABLE = """
    CREATE TABLE IF NOT EXISTS monkey_events (
        id TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL, record TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS monkey_events_by_time ON monkey_events (at);
"""
_SAVE = "INSERT INTO monkey_events (id, at, record) VALUES ({}) ON CONFLICT (id) DO UPDATE SET record = excluded.record"


class MonkeyEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_id)
    at: datetime
    group: str
    action: Literal["kill", "would-kill", "skip"]
    state: Literal["planned", "done", "failed"] = "planned"
    targets: list[str] = Field(default_factory=list)
    reason: str = ""


class MonkeyEvents(Protocol):
    async def record(self, event: MonkeyEvent) -> None: ...
    async def events(self, limit: int = 100) -> list[MonkeyEvent]:
        """Newest first."""
        ...


class SqliteMonkeyEvents:
    def __init__(self, store: SqliteStore) -> None:
        self.store, self._ready = store, False

    async def _db(self) -> SqliteStore:
        if not self._ready:
            await self.store.run_job(lambda db: sqlite_create(db, COMPONENT, VERSION, _TABLE))
            self._ready = True
        return self.store

    async def record(self, event: MonkeyEvent) -> None:
        row = (event.id, event.at.timestamp(), event.model_dump_json())

        def save(db: sqlite3.Connection) -> None:
            with db:
                db.execute(_SAVE.format("?, ?, ?"), row)

        await (await self._db()).run_job(save)

    async def events(self, limit: int = 100) -> list[MonkeyEvent]:
        def read(db: sqlite3.Connection) -> list[str]:
            return [
                r[0]
                for r in db.execute("SELECT record FROM monkey_events ORDER BY at DESC LIMIT ?", (limit,))
            ]

        return [MonkeyEvent.model_validate_json(r) for r in await (await self._db()).run_job(read)]


class PostgresMonkeyEvents:
    def __init__(self, store: PostgresStore) -> None:
        self.store, self._ready = store, False

    async def _db(self) -> PostgresStore:
        if not self._ready:
            await self.store.run_job(lambda conn: postgres_create(conn, COMPONENT, VERSION, _TABLE))
            self._ready = True
        return self.store

    async def record(self, event: MonkeyEvent) -> None:
        async def save(conn: asyncpg.Connection) -> None:
            await conn.execute(
                _SAVE.format("$1, $2, $3"), event.id, event.at.timestamp(), event.model_dump_json()
            )

        await (await self._db()).run_job(save)

    async def events(self, limit: int = 100) -> list[MonkeyEvent]:
        async def read(conn: asyncpg.Connection) -> list[str]:
            return [
                r[0]
                for r in await conn.fetch("SELECT record FROM monkey_events ORDER BY at DESC LIMIT $1", limit)
            ]

        return [MonkeyEvent.model_validate_json(r) for r in await (await self._db()).run_job(read)]


def monkey_events_of(store: object) -> MonkeyEvents | None:
    if isinstance(store, SqliteStore):
        return SqliteMonkeyEvents(store)
    if isinstance(store, PostgresStore):
        return PostgresMonkeyEvents(store)
    return None
