"""Rollout state, its journal and the commands sent to it, beside the results.

A rollout controller writes its :class:`RolloutRecord` before and after every action it takes on a
router, and one :class:`Decision` per decision with the Verdicts behind it; a controller that
restarts reads the record back (and verifies the router before it acts). Commands (promote, abort,
pause, resume) are rows another process adds and the controller takes, so ``livesite rollout
abort NAME`` works from any shell on any host that reaches the store.

Tables of their own, with their own version (``store/_components.py``).
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal, Protocol

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from pydantic import BaseModel, ConfigDict, Field

from livesite.analysis import Verdict
from livesite.ids import new_id
from livesite.store._components import postgres_create, sqlite_create
from livesite.store.postgres import PostgresStore
from livesite.store.sqlite import SqliteStore

COMPONENT = "rollouts"
VERSION = 1

Phase = Literal[
    "pending", "progressing", "paused", "promoting", "promoted", "rolled-back", "frozen", "aborted"
]
TERMINAL: frozenset[str] = frozenset({"promoted", "rolled-back", "aborted"})
CommandName = Literal["promote", "abort", "pause", "resume"]


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class RolloutRecord(BaseModel):
    """Where a rollout is: enough to resume it, or to hold it, after a restart."""

    model_config = ConfigDict(extra="forbid")

    name: str
    phase: Phase = "pending"
    step: int = 0  # the next step to run
    weight: int = 0  # the canary weight last applied (and verified)
    pinned: bool = False
    started_at: datetime
    updated_at: datetime
    reason: str = ""
    failures: int = 0  # failed analyses
    inconclusive: int = 0  # inconclusive analyses in a row
    paused_until: datetime | None = None
    owner: str = ""  # host:pid of the controller running it
    heartbeat_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.phase in TERMINAL


class MetricVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str
    verdict: Verdict


class Decision(BaseModel):
    """One thing a controller decided, and why: the journal the status page and `status` show."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=new_id)
    rollout: str
    at: datetime
    phase: Phase
    step: int
    action: str  # "set weight 10", "analysis passed", "rolled back", ...
    reason: str = ""
    weights: dict[str, int] = Field(default_factory=dict)
    verdicts: list[MetricVerdict] = Field(default_factory=list)
    outcome: Literal["pass", "fail", "inconclusive"] | None = None


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=new_id)
    rollout: str
    command: CommandName
    at: datetime = Field(default_factory=lambda: datetime.now(tz=UTC))
    by: str = Field(default_factory=owner_name)


class RolloutStore(Protocol):
    async def record(self, name: str) -> RolloutRecord | None: ...
    async def records(self) -> list[RolloutRecord]: ...
    async def save(self, record: RolloutRecord) -> None: ...
    async def journal(self, decision: Decision) -> None: ...
    async def decisions(self, name: str, limit: int = 100) -> list[Decision]:
        """Newest first."""
        ...

    async def send(self, command: Command) -> None: ...
    async def take(self, name: str) -> list[Command]:
        """The commands not yet taken, oldest first; each is taken once."""
        ...


_TABLES = """
    CREATE TABLE IF NOT EXISTS rollout_state (name TEXT PRIMARY KEY, record TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS rollout_journal (
        id TEXT PRIMARY KEY, rollout TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, record TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS rollout_journal_by_rollout ON rollout_journal (rollout, at);
    CREATE TABLE IF NOT EXISTS rollout_commands (
        id TEXT PRIMARY KEY, rollout TEXT NOT NULL, record TEXT NOT NULL, taken INTEGER NOT NULL DEFAULT 0
    );
"""
_SAVE = "INSERT INTO rollout_state (name, record) VALUES ({}, {}) ON CONFLICT (name) DO UPDATE SET record = excluded.record"


class SqliteRollouts:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self._ready = False

    async def _db(self) -> SqliteStore:
        if not self._ready:
            await self.store.run(lambda db: sqlite_create(db, COMPONENT, VERSION, _TABLES))
            self._ready = True
        return self.store

    async def record(self, name: str) -> RolloutRecord | None:
        def read(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT record FROM rollout_state WHERE name = ?", (name,)).fetchone()
            return str(row[0]) if row else None

        found = await (await self._db()).run(read)
        return RolloutRecord.model_validate_json(found) if found else None

    async def records(self) -> list[RolloutRecord]:
        def read(db: sqlite3.Connection) -> list[str]:
            return [r[0] for r in db.execute("SELECT record FROM rollout_state ORDER BY name")]

        return [RolloutRecord.model_validate_json(r) for r in await (await self._db()).run(read)]

    async def save(self, record: RolloutRecord) -> None:
        row = (record.name, record.model_dump_json())

        def save(db: sqlite3.Connection) -> None:
            with db:
                db.execute(_SAVE.format("?", "?"), row)

        await (await self._db()).run(save)

    async def journal(self, decision: Decision) -> None:
        row = (decision.id, decision.rollout, decision.at.timestamp(), decision.model_dump_json())

        def add(db: sqlite3.Connection) -> None:
            with db:
                db.execute("INSERT INTO rollout_journal (id, rollout, at, record) VALUES (?, ?, ?, ?)", row)

        await (await self._db()).run(add)

    async def decisions(self, name: str, limit: int = 100) -> list[Decision]:
        def read(db: sqlite3.Connection) -> list[str]:
            sql = "SELECT record FROM rollout_journal WHERE rollout = ? ORDER BY at DESC, id DESC LIMIT ?"
            return [r[0] for r in db.execute(sql, (name, limit))]

        return [Decision.model_validate_json(r) for r in await (await self._db()).run(read)]

    async def send(self, command: Command) -> None:
        row = (command.id, command.rollout, command.model_dump_json())

        def add(db: sqlite3.Connection) -> None:
            with db:
                db.execute("INSERT INTO rollout_commands (id, rollout, record) VALUES (?, ?, ?)", row)

        await (await self._db()).run(add)

    async def take(self, name: str) -> list[Command]:
        def take(db: sqlite3.Connection) -> list[str]:
            with db:
                db.execute("BEGIN IMMEDIATE")  # two controllers must not both take one command
                rows = db.execute(
                    "SELECT id, record FROM rollout_commands WHERE rollout = ? AND taken = 0 ORDER BY id",
                    (name,),
                ).fetchall()
                db.executemany("UPDATE rollout_commands SET taken = 1 WHERE id = ?", [(r[0],) for r in rows])
            return [r[1] for r in rows]

        return [Command.model_validate_json(r) for r in await (await self._db()).run(take)]


class PostgresRollouts:
    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self._ready = False

    async def _db(self) -> PostgresStore:
        if not self._ready:
            await self.store.run(lambda conn: postgres_create(conn, COMPONENT, VERSION, _TABLES))
            self._ready = True
        return self.store

    async def record(self, name: str) -> RolloutRecord | None:
        async def read(conn: asyncpg.Connection) -> str | None:
            value = await conn.fetchval("SELECT record FROM rollout_state WHERE name = $1", name)
            return str(value) if value is not None else None

        found = await (await self._db()).run(read)
        return RolloutRecord.model_validate_json(found) if found else None

    async def records(self) -> list[RolloutRecord]:
        async def read(conn: asyncpg.Connection) -> list[str]:
            return [r[0] for r in await conn.fetch("SELECT record FROM rollout_state ORDER BY name")]

        return [RolloutRecord.model_validate_json(r) for r in await (await self._db()).run(read)]

    async def save(self, record: RolloutRecord) -> None:
        async def save(conn: asyncpg.Connection) -> None:
            await conn.execute(_SAVE.format("$1", "$2"), record.name, record.model_dump_json())

        await (await self._db()).run(save)

    async def journal(self, decision: Decision) -> None:
        async def add(conn: asyncpg.Connection) -> None:
            await conn.execute(
                "INSERT INTO rollout_journal (id, rollout, at, record) VALUES ($1, $2, $3, $4)",
                decision.id,
                decision.rollout,
                decision.at.timestamp(),
                decision.model_dump_json(),
            )

        await (await self._db()).run(add)

    async def decisions(self, name: str, limit: int = 100) -> list[Decision]:
        async def read(conn: asyncpg.Connection) -> list[str]:
            sql = "SELECT record FROM rollout_journal WHERE rollout = $1 ORDER BY at DESC, id DESC LIMIT $2"
            return [r[0] for r in await conn.fetch(sql, name, limit)]

        return [Decision.model_validate_json(r) for r in await (await self._db()).run(read)]

    async def send(self, command: Command) -> None:
        async def add(conn: asyncpg.Connection) -> None:
            await conn.execute(
                "INSERT INTO rollout_commands (id, rollout, record) VALUES ($1, $2, $3)",
                command.id,
                command.rollout,
                command.model_dump_json(),
            )

        await (await self._db()).run(add)

    async def take(self, name: str) -> list[Command]:
        async def take(conn: asyncpg.Connection) -> list[str]:
            rows = await conn.fetch(
                "UPDATE rollout_commands SET taken = 1 WHERE id IN (SELECT id FROM rollout_commands "
                "WHERE rollout = $1 AND taken = 0 FOR UPDATE SKIP LOCKED) RETURNING id, record",
                name,
            )
            return [r[1] for r in sorted(rows, key=lambda r: r[0])]

        return [Command.model_validate_json(r) for r in await (await self._db()).run(take)]


def rollouts_of(store: object) -> RolloutStore | None:
    """The rollout store beside a results store (None beside a store of another kind)."""
    if isinstance(store, SqliteStore):
        return SqliteRollouts(store)
    if isinstance(store, PostgresStore):
        return PostgresRollouts(store)
    return None


def worst(outcomes: Sequence[str]) -> Literal["pass", "fail", "inconclusive"]:
    """Worst wins, as in Argo Rollouts: fail, then inconclusive, then pass (no outcomes: inconclusive)."""
    if "fail" in outcomes:
        return "fail"
    if not outcomes or "inconclusive" in outcomes:
        return "inconclusive"
    return "pass"
