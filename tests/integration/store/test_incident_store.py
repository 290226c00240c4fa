"""Partner incidents keep the same records in SQLite and PostgreSQL, beside the results schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from livesite.incidents import Evidence, PartnerIncident
from livesite.store import open_store
from livesite.store.base import ResultQuery
from livesite.store.incidents import incidents_of

T0 = datetime(2026, 11, 29, 12, tzinfo=UTC)


def _incident(partner: str, minute: int) -> PartnerIncident:
    seen = Evidence(
        at=T0 + timedelta(minutes=minute),
        check="pay",
        zone="zone-a",
        result_id=f"r{minute}",
        passed=False,
        target="https://partner/pay",
        status_code=503,
        failure="HTTP 503",
        duration_seconds=0.2,
    )
    return PartnerIncident(
        partner=partner, opened_at=seen.at, updated_at=seen.at, first_failure=seen, last_failure=seen
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'r.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


async def test_incidents_are_upserted_filtered_and_read_newest_first(store_url: str) -> None:
    store = await open_store(store_url)
    try:
        incidents = incidents_of(store)
        assert incidents is not None
        old, new, other = _incident("payments", 0), _incident("payments", 5), _incident("maps", 3)
        await incidents.save_incidents([old, new, other])
        old.state, old.resolved_at = "resolved", T0 + timedelta(minutes=2)
        await incidents.save_incidents([old])  # the same record, updated: not a second one
        found = await incidents.incidents("payments")
        assert [i.id for i in found] == [new.id, old.id]
        assert found[1].state == "resolved" and found[1].first_failure.status_code == 503
        assert [i.id for i in await incidents.incidents(open_only=True)] == [new.id, other.id]
        assert await store.results(ResultQuery()) == []  # the results schema is untouched
    finally:
        await store.close()
    reopened = await open_store(store_url)  # a second process opening the same store
    try:
        assert len(await incidents_of(reopened).incidents()) == 3  # type: ignore[union-attr]
    finally:
        await reopened.close()
