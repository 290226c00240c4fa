"""PostgresStore against a real PostgreSQL 15 (``pg_plugin``): the conformance suite, the upgrade from
schema 2, index use and open errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
import pytest
import schema_v2

from livesite.errors import StoreError
from livesite.results import Result, Status
from livesite.store import PostgresStore, ResultQuery, _rows, open_store
from livesite.testing.store_conformance import check_store, rich_result

T0 = datetime(2024, 5, 1, tzinfo=UTC)


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
            (3,),
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


async def _version_2_database(url: str, rows: tuple[schema_v2.OldRow, ...] = schema_v2.ROWS) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(schema_v2.POSTGRES_DDL)
        await conn.executemany(
            "INSERT INTO livesite_results (id, check_name, zone, cohort, revision, status, started_at, "
            "duration_seconds, record) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::json)",
            rows,
        )
        await conn.executemany(
            "INSERT INTO livesite_events (check_name, zone, at, record) VALUES ($1, $2, $3, $4::json)",
            schema_v2.event_rows(),
        )
    finally:
        await conn.close()


async def _fetch(url: str, sql: str) -> list[tuple[object, ...]]:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()


_COUNTS = "SELECT (SELECT count(*) FROM livesite_results), (SELECT count(*) FROM livesite_events)"


async def test_a_version_2_database_is_upgraded_keeping_every_result(fresh_postgres_url: str) -> None:
    await _version_2_database(fresh_postgres_url)
    before = await _fetch(fresh_postgres_url, _COUNTS)
    assert before == [(len(schema_v2.ROWS), len(schema_v2.EVENTS))]
    store = await PostgresStore.open(fresh_postgres_url)
    try:
        assert await _fetch(fresh_postgres_url, _COUNTS) == before  # the upgrade neither loses nor adds a row
        schema_v2.assert_upgraded(await store.results(ResultQuery(limit=100)))
        assert [r.id for r in await store.results(ResultQuery(user="alice"))] == [schema_v2.HTTP_OK.id]
        assert [r.id for r in await store.results(ResultQuery(user="bob"))] == [schema_v2.JOURNEY.id]
        for (tag, value), ids in schema_v2.TAGGED.items():
            assert {r.id for r in await store.results(ResultQuery(tags={tag: value}))} == ids
        assert await store.latest_states() == schema_v2.latest_events()
        fresh = rich_result()
        await store.add_results([fresh])
        assert await store.results(ResultQuery(check="roundtrip")) == [fresh]
    finally:
        await store.close()
    assert await _fetch(fresh_postgres_url, _COUNTS) == [(len(schema_v2.ROWS) + 1, len(schema_v2.EVENTS))]
    assert await _fetch(fresh_postgres_url, "SELECT max(version) FROM livesite_schema_version") == [(3,)]
    # Tags of the old rows (HTTP_OK has 2, JOURNEY 1, DNS 1) plus the 3 of the Result added after.
    assert await _fetch(fresh_postgres_url, "SELECT count(*) FROM livesite_result_tags") == [(7,)]


async def test_a_record_that_cannot_be_upgraded_leaves_the_database_at_version_2(
    fresh_postgres_url: str,
) -> None:
    broken = schema_v2.TCP._replace(id="broken", record='{"id": "broken", "check": 7}')
    await _version_2_database(fresh_postgres_url, (*schema_v2.ROWS, broken))
    with pytest.raises(StoreError, match="'broken'") as caught:
        await PostgresStore.open(fresh_postgres_url)
    assert caught.value.hint
    assert await _fetch(fresh_postgres_url, "SELECT max(version) FROM livesite_schema_version") == [(2,)]
    assert await _fetch(fresh_postgres_url, "SELECT count(*) FROM livesite_results") == [(7,)]
    assert await _fetch(
        fresh_postgres_url, f"SELECT record::text FROM livesite_results WHERE id = '{schema_v2.HTTP_OK.id}'"
    ) == [(schema_v2.HTTP_OK.record,)]


_FILTERS = [
    ResultQuery(revision="v2"),
    ResultQuery(check="web", revision="v2"),
    ResultQuery(cohort="canary"),
    ResultQuery(user="alice"),
    ResultQuery(status=Status.failed),
    ResultQuery(status=frozenset({Status.failed, Status.error})),
    ResultQuery(tags={"team": "pay"}),
    ResultQuery(tags={"team": "pay", "tier": "1"}, since=T0),
]


@pytest.mark.parametrize("query", _FILTERS, ids=repr)
async def test_every_result_filter_can_be_answered_from_an_index(
    postgres_url: str, query: ResultQuery
) -> None:
    await (await PostgresStore.open(postgres_url)).close()
    sql, params = _rows.results_sql(query, _rows.POSTGRES)
    conn = await asyncpg.connect(postgres_url)
    try:
        # An empty table is cheapest to scan; forbidding that shows whether an index *can* answer.
        await conn.execute("SET enable_seqscan = off")
        plan = "\n".join(row[0] for row in await conn.fetch(f"EXPLAIN {sql}", *params))
    finally:
        await conn.close()
    assert "Seq Scan" not in plan, plan


async def test_compaction_deletes_the_tags_of_the_results_it_folds(fresh_postgres_url: str) -> None:
    store = await PostgresStore.open(fresh_postgres_url)
    old = [
        Result(
            check="web",
            kind="http",
            zone="a",
            started_at=T0 + timedelta(seconds=i),
            duration_seconds=0.1,
            status=Status.ok,
            tags={"team": "pay", "n": str(i)},
        )
        for i in range(10)
    ]
    try:
        await store.add_results(old)
        await store.add_results(old)  # a retried batch stores its tags once
        await store.compact(
            T0 + timedelta(seconds=105), raw_retention_seconds=100, aggregate_retention_seconds=1e9
        )
        assert [r.id for r in await store.results(ResultQuery(tags={"team": "pay"}))] == [
            r.id for r in reversed(old[5:])
        ]
    finally:
        await store.close()
    assert await _fetch(fresh_postgres_url, "SELECT count(*) FROM livesite_result_tags") == [(10,)]
