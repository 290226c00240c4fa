"""Tables of the store's other consumers (partner incidents, rollouts, leases), each with its own version.

The results schema has its own migrations (``schema_version``); every other consumer keeps its
tables beside them and records its version in ``component_versions``, so each migrates on its own.
"""

from __future__ import annotations

import sqlite3

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

_VERSIONS = (
    "CREATE TABLE IF NOT EXISTS component_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL);"
)


def sqlite_create(db: sqlite3.Connection, component: str, version: int, ddl: str) -> None:
    """Create a consumer's tables (idempotent DDL), on the store's thread."""
    with db:
        # BEGIN IMMEDIATE: two processes opening one file must not interleave their DDL.
        db.executescript("BEGIN IMMEDIATE;" + _VERSIONS + ddl.replace("DOUBLE PRECISION", "REAL"))
        db.execute(
            "INSERT OR IGNORE INTO component_versions (component, version) VALUES (?, ?)",
            (component, version),
        )


async def postgres_create(conn: asyncpg.Connection, component: str, version: int, ddl: str) -> None:
    async with conn.transaction():
        # Two processes creating the tables at once would race on the catalog.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"livesite:{component}")
        await conn.execute(_VERSIONS + ddl)
        await conn.execute(
            "INSERT INTO component_versions (component, version) VALUES ($1, $2) "
            "ON CONFLICT (component) DO NOTHING",
            component,
            version,
        )
