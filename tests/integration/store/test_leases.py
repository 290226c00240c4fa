"""The lease store on SQLite and PostgreSQL: the conformance suite, its own schema, two processes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from livesite.errors import StoreError
from livesite.store import PostgresStore, SqliteStore, open_store
from livesite.store.leases import open_leases
from livesite.testing.lease_conformance import check_leases

pytest_plugins = ["pg_plugin"]


async def test_sqlite_leases_pass_the_conformance_suite(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "results.db")
    try:
        await check_leases(await open_leases(store))
    finally:
        await store.close()


async def test_postgres_leases_pass_the_conformance_suite(fresh_postgres_url: str) -> None:
    store = await PostgresStore.open(fresh_postgres_url)
    try:
        await check_leases(await open_leases(store))
        await open_leases(store)  # opening again finds the table made
    finally:
        await store.close()


async def test_leases_keep_their_own_schema_version_beside_the_results_schema(tmp_path: Path) -> None:
    path = tmp_path / "results.db"
    store = await open_store(f"sqlite:///{path}")
    leases = await open_leases(store)
    lease = await leases.acquire("user", ["u1"], "me", ttl_seconds=5, now=10.0)
    assert lease is not None
    await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT max(version) FROM lease_schema").fetchone() == (1,)
        assert db.execute("SELECT max(version) FROM schema_version").fetchone()[0] >= 3
        db.execute("INSERT INTO lease_schema (version) VALUES (99)")
    store = await open_store(f"sqlite:///{path}")
    try:
        with pytest.raises(StoreError, match="schema 99, newer"):
            await open_leases(store)
    finally:
        await store.close()
