"""PostgresStore against a real PostgreSQL 15 (``pg_plugin``): the conformance suite and open errors."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]
import pytest

from livesite.errors import StoreError
from livesite.store import PostgresStore, ResultQuery, open_store
from livesite.testing.store_conformance import check_store, rich_result


async def test_postgres_store_passes_the_conformance_suite(fresh_postgres_url: str) -> None:
    store = await PostgresStore.open(fresh_postgres_url)
    try:
        await check_store(store)
    finally:
        await store.close()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
async def test_open_store_takes_both_postgres_schemes(scheme: str, fresh_postgres_url: str) -> None:
    url = fresh_postgres_url.replace("postgresql", scheme, 1)
    store = await open_store(url)
    try:
        written = rich_result()
        await store.add_results([written])
        assert await store.results(ResultQuery()) == [written]
    finally:
        await store.close()


async def test_processes_opening_a_new_database_at_once_migrate_it_once(fresh_postgres_url: str) -> None:
    stores = await asyncio.gather(*(PostgresStore.open(fresh_postgres_url) for _ in range(4)))
    for store in stores:
        await store.close()
    conn = await asyncpg.connect(fresh_postgres_url)
    try:
        # Each version recorded once, not once per process.
        assert await conn.fetch("SELECT version FROM livesite_schema_version ORDER BY version") == [
            (1,),
            (2,),
        ]
    finally:
        await conn.close()


async def test_a_database_from_a_newer_livesite_is_refused_with_an_upgrade_hint(
    fresh_postgres_url: str,
) -> None:
    await (await PostgresStore.open(fresh_postgres_url)).close()
    conn = await asyncpg.connect(fresh_postgres_url)
    await conn.execute("INSERT INTO livesite_schema_version (version) VALUES (99)")
    await conn.close()
    with pytest.raises(StoreError, match="schema version 99") as caught:
        await PostgresStore.open(fresh_postgres_url)
    assert "upgrade" in str(caught.value.hint)


async def test_a_missing_database_is_a_store_error_without_the_password(fresh_postgres_url: str) -> None:
    url = fresh_postgres_url.replace("postgres@", "postgres:s3cret@").rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(StoreError, match="no_such_db") as caught:
        await PostgresStore.open(url)
    assert "s3cret" not in str(caught.value) and caught.value.hint


async def test_a_server_that_is_not_there_is_a_store_error(unused_tcp_port: int) -> None:
    with pytest.raises(StoreError, match="cannot connect"):
        await PostgresStore.open(f"postgresql://postgres@127.0.0.1:{unused_tcp_port}/x")
