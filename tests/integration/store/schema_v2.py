"""A store as livesite wrote it at schema version 2, frozen here to test the upgrade to schema 3.

The DDL is copied from sqlite.py and postgres.py as they were at version 2 (commit 7aa07a6), and
the records are written by hand the way that version serialised Results: the first release
dumped every field (``null``s included), later ones left defaults out. Nothing here may import
the store's own migrations: the point is what an old file really holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from livesite.results import HttpObservation, Result, SocketObservation, Status, TlsInfo
from livesite.states import CheckState, StateChange

# Version 1; version 2 added the unique index on events.
SQLITE_TABLES_V1 = """
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
"""

SQLITE_DDL = f"""
    {SQLITE_TABLES_V1};
    CREATE UNIQUE INDEX events_once ON events (check_name, zone, at);
    CREATE TABLE schema_version (version INTEGER NOT NULL);
    INSERT INTO schema_version (version) VALUES (1);
    INSERT INTO schema_version (version) VALUES (2);
"""

POSTGRES_DDL = """
    CREATE TABLE livesite_results (
        seq bigserial PRIMARY KEY,
        id text NOT NULL,
        check_name text NOT NULL,
        zone text NOT NULL,
        cohort text NOT NULL,
        revision text NOT NULL,
        status text NOT NULL,
        started_at double precision NOT NULL,
        duration_seconds double precision NOT NULL,
        record json NOT NULL
    );
    CREATE UNIQUE INDEX livesite_results_time_id ON livesite_results (started_at, id);
    CREATE INDEX livesite_results_check_time ON livesite_results (check_name, started_at);
    CREATE TABLE livesite_events (
        seq bigserial PRIMARY KEY,
        check_name text NOT NULL,
        zone text NOT NULL,
        at double precision NOT NULL,
        record json NOT NULL
    );
    CREATE INDEX livesite_events_check_time ON livesite_events (check_name, at);
    CREATE INDEX livesite_events_time ON livesite_events (at);
    CREATE TABLE livesite_minutes (
        check_name text NOT NULL,
        zone text NOT NULL,
        minute bigint NOT NULL,
        total bigint NOT NULL,
        ok bigint NOT NULL,
        degraded bigint NOT NULL,
        failed bigint NOT NULL,
        error bigint NOT NULL,
        sum_duration double precision NOT NULL,
        max_duration double precision NOT NULL,
        PRIMARY KEY (check_name, zone, minute)
    );
    CREATE INDEX livesite_minutes_minute ON livesite_minutes (minute);
    CREATE UNIQUE INDEX livesite_events_once ON livesite_events (check_name, zone, at);
    CREATE TABLE livesite_schema_version (version integer NOT NULL);
    INSERT INTO livesite_schema_version (version) VALUES (1), (2);
"""


class OldRow(NamedTuple):
    """A row of the version 2 results table: its indexed columns and the record as stored."""

    id: str
    check_name: str
    zone: str
    cohort: str
    revision: str
    status: str
    started_at: float
    duration_seconds: float
    record: str


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# An http check that answered, with every old HTTP field, tags, a user and a cohort (version 2:
# defaults left out).
HTTP_OK = OldRow(
    "5f0e6b7c9d8a4e3f2a1b0c9d8e7f6a5b",
    "catalog",
    "eu",
    "canary",
    "v1",
    "ok",
    _epoch("2024-05-01T10:00:00.250000+00:00"),
    0.0123,
    '{"id":"5f0e6b7c9d8a4e3f2a1b0c9d8e7f6a5b","check":"catalog","kind":"http","zone":"eu",'
    '"user":"alice","cohort":"canary","revision":"v1","started_at":"2024-05-01T10:00:00.250000Z",'
    '"duration_seconds":0.0123,"status":"ok","phases":{"connect":0.001,"processing":0.01},'
    '"assertions":[{"expr":"status == 200","observed":"200","passed":true}],'
    '"attempts":[{"number":1,"started_at":"2024-05-01T10:00:00.250000Z","duration_seconds":0.0123}],'
    '"tags":{"team":"search","tier":"1"},"target":"https://shop.test/catalog",'
    '"status_code":200,"response_bytes":690,"redirects":["https://shop.test/catalog/"],'
    '"cert_not_after":"2025-01-01T00:00:00Z"}',
)

# An http check that got no answer: no status code at all (version 2), an offset that is not UTC.
HTTP_REFUSED = OldRow(
    "00000000000000000000000000000001",
    "catalog",
    "us",
    "",
    "",
    "error",
    _epoch("2024-05-01T12:00:05+02:00"),
    0.0004,
    '{"id":"00000000000000000000000000000001","check":"catalog","kind":"http","zone":"us",'
    '"started_at":"2024-05-01T12:00:05+02:00","duration_seconds":0.0004,"status":"error",'
    '"failure":{"kind":"connect","message":"connection refused"},'
    '"attempts":[{"number":1,"started_at":"2024-05-01T12:00:05+02:00","duration_seconds":0.0002,'
    '"failure":{"kind":"connect","message":"connection refused"}},'
    '{"number":2,"started_at":"2024-05-01T12:00:05.000200+02:00","duration_seconds":0.0002,'
    '"failure":{"kind":"connect","message":"connection refused"}}],'
    '"target":"https://shop.test/catalog"}',
)

# A journey as the first release wrote it: every field, nulls and empty lists included; steps with
# their own status code and URL; artifacts by path, by text, by both and by neither.
JOURNEY = OldRow(
    "9a8b7c6d5e4f30211203a4b5c6d7e8f9",
    "checkout",
    "eu",
    "stable",
    "v2",
    "failed",
    _epoch("2024-05-01T10:01:00+00:00"),
    0.3125,
    '{"id":"9a8b7c6d5e4f30211203a4b5c6d7e8f9","check":"checkout","kind":"journey","zone":"eu",'
    '"user":"bob","cohort":"stable","revision":"v2","started_at":"2024-05-01T10:01:00Z",'
    '"duration_seconds":0.3125,"status":"failed",'
    '"failure":{"kind":"assertion","message":"expected status == 200, observed 402","step":"pay"},'
    '"phases":{"resolve":0.0,"connect":0.0,"tls":0.0,"processing":0.0,"transfer":0.0},'
    '"assertions":[],'
    '"steps":[{"name":"home","status":"ok","duration_seconds":0.1,"failure":null,"assertions":[],'
    '"phases":null,"status_code":200,"url":"https://shop.test/"},'
    '{"name":"pay","status":"failed","duration_seconds":0.2,'
    '"failure":{"kind":"assertion","message":"expected status == 200, observed 402","step":"pay"},'
    '"assertions":[{"expr":"status == 200","observed":"402","passed":false,"budget":false}],'
    '"phases":{"resolve":0.0,"connect":0.0,"tls":0.0,"processing":0.2,"transfer":0.0},'
    '"status_code":402,"url":"https://shop.test/pay"},'
    '{"name":"think","status":"ok","duration_seconds":0.0125,"failure":null,"assertions":[],'
    '"phases":null,"status_code":null,"url":null}],'
    '"attempts":[],"tags":{"flow":"checkout"},'
    '"artifacts":[{"name":"screenshot","media_type":"image/png",'
    '"path":"/var/lib/livesite/shots/pay 1.png","text":null},'
    '{"name":"console","media_type":"text/plain","path":null,"text":"TypeError: x is undefined ☃ 100%"},'
    '{"name":"trace","media_type":"application/zip","path":"traces/t 1.zip","text":"summary"},'
    '{"name":"nothing","media_type":"text/plain","path":null,"text":null}],'
    '"target":"https://shop.test/","status_code":402,"response_bytes":null,"redirects":[],'
    '"cert_not_after":null}',
)

# A tls check: the certificate's expiry was its only observation.
TLS = OldRow(
    "1b2c3d4e5f60718293a4b5c6d7e8f901",
    "cert",
    "eu",
    "",
    "",
    "degraded",
    _epoch("2024-05-01T10:02:00+00:00"),
    0.02,
    '{"id":"1b2c3d4e5f60718293a4b5c6d7e8f901","check":"cert","kind":"tls","zone":"eu",'
    '"started_at":"2024-05-01T10:02:00Z","duration_seconds":0.02,"status":"degraded",'
    '"assertions":[{"expr":"cert.days_left > 60","observed":"31","passed":false,"budget":true}],'
    '"target":"shop.test:443","cert_not_after":"2024-06-01T00:00:00Z"}',
)

# A dns check that failed (version 2: nothing HTTP about it) and a tcp check as the first release
# wrote it (HTTP fields present, all empty).
DNS = OldRow(
    "2c3d4e5f60718293a4b5c6d7e8f90123",
    "resolver",
    "us",
    "",
    "",
    "failed",
    _epoch("2024-05-01T10:03:00+00:00"),
    0.005,
    '{"id":"2c3d4e5f60718293a4b5c6d7e8f90123","check":"resolver","kind":"dns","zone":"us",'
    '"started_at":"2024-05-01T10:03:00Z","duration_seconds":0.005,"status":"failed",'
    '"failure":{"kind":"assertion","message":"expected rcode == NOERROR, observed NXDOMAIN"},'
    '"assertions":[{"expr":"rcode == NOERROR","observed":"NXDOMAIN","passed":false}],'
    '"tags":{"team":"search"},"target":"shop.test A"}',
)
TCP = OldRow(
    "3d4e5f60718293a4b5c6d7e8f9012345",
    "db-port",
    "eu",
    "",
    "",
    "ok",
    _epoch("2024-05-01T10:04:00+00:00"),
    0.001,
    '{"id":"3d4e5f60718293a4b5c6d7e8f9012345","check":"db-port","kind":"tcp","zone":"eu","user":"",'
    '"cohort":"","revision":"","started_at":"2024-05-01T10:04:00Z","duration_seconds":0.001,'
    '"status":"ok","failure":null,"phases":{"resolve":0.0,"connect":0.001,"tls":0.0,"processing":0.0,'
    '"transfer":0.0},"assertions":[],"steps":[],"attempts":[],"tags":{},"artifacts":[],'
    '"target":"db.test:5432","status_code":null,"response_bytes":null,"redirects":[],'
    '"cert_not_after":null}',
)

ROWS = (HTTP_OK, HTTP_REFUSED, JOURNEY, TLS, DNS, TCP)
TAGGED = {("team", "search"): {HTTP_OK.id, DNS.id}, ("flow", "checkout"): {JOURNEY.id}}


def _change(check: str, zone: str, at: str, current: CheckState) -> StateChange:
    return StateChange(
        check=check,
        zone=zone,
        previous=CheckState.up,
        current=current,
        at=datetime.fromisoformat(at),
        result_id="r-" + at,
        reason="connect: connection refused",
    )


EVENTS = (
    _change("catalog", "us", "2024-05-01T09:00:00+00:00", CheckState.down),
    _change("catalog", "us", "2024-05-01T09:30:00+00:00", CheckState.up),
    _change("catalog", "eu", "2024-05-01T09:10:00+00:00", CheckState.degraded),
)


def event_rows() -> list[tuple[str, str, float, str]]:
    return [(e.check, e.zone, e.at.timestamp(), e.model_dump_json()) for e in EVENTS]


def _expiry(text: str) -> TlsInfo:
    at = datetime.fromisoformat(text)
    return TlsInfo(earliest_expiry=at, leaf_expiry=at)


def assert_upgraded(back: list[Result]) -> None:
    """Every old row read back as a schema 3 Result, keeping what it held."""
    by_id = {r.id: r for r in back}
    assert sorted(by_id) == sorted(row.id for row in ROWS)
    for row in ROWS:
        got = by_id[row.id]
        assert (got.check, got.zone, got.cohort, got.revision, got.status.value) == (
            row.check_name,
            row.zone,
            row.cohort,
            row.revision,
            row.status,
        )
        assert got.started_at.timestamp() == row.started_at
        assert got.duration_seconds == row.duration_seconds

    ok = by_id[HTTP_OK.id]
    assert ok.observation == HttpObservation(
        status_code=200,
        content_length=-1,  # never stored: "absent"
        body_bytes=690,
        redirects=["https://shop.test/catalog/"],
        tls=_expiry("2025-01-01T00:00:00+00:00"),
    )
    assert (ok.user, ok.tags, ok.target) == (
        "alice",
        {"team": "search", "tier": "1"},
        "https://shop.test/catalog",
    )
    assert ok.assertions[0].observed == "200" and ok.phases.processing == 0.01

    refused = by_id[HTTP_REFUSED.id]
    assert refused.observation == HttpObservation(status_code=0, content_length=0)  # no answer, as blackbox
    assert refused.failure is not None and refused.failure.message == "connection refused"
    assert len(refused.attempts) == 2 and refused.started_at.utcoffset() is not None

    journey = by_id[JOURNEY.id]
    assert journey.user == "bob" and journey.status is Status.failed
    assert journey.observation == HttpObservation(status_code=402, content_length=-1)
    home, pay, think = journey.steps
    assert home.observation == HttpObservation(status_code=200, content_length=-1)
    assert home.target == "https://shop.test/"
    assert pay.observation == HttpObservation(status_code=402, content_length=-1)
    assert pay.target == "https://shop.test/pay" and pay.assertions[0].observed == "402"
    assert think.observation is None and think.target == ""
    assert [(a.name, a.media_type, a.uri) for a in journey.artifacts] == [
        ("screenshot", "image/png", "file:///var/lib/livesite/shots/pay%201.png"),
        (
            "console",
            "text/plain",
            "data:text/plain;charset=utf-8,TypeError%3A%20x%20is%20undefined%20%E2%98%83%20100%25",
        ),
        ("trace", "application/zip", "file:traces/t%201.zip"),
        ("trace", "application/zip", "data:text/plain;charset=utf-8,summary"),
        ("nothing", "text/plain", ""),
    ]

    tls = by_id[TLS.id]
    assert tls.observation == SocketObservation(tls=_expiry("2024-06-01T00:00:00+00:00"))
    assert tls.assertions[0].budget

    assert by_id[DNS.id].observation is None and by_id[DNS.id].tags == {"team": "search"}
    assert by_id[TCP.id].observation is None and by_id[TCP.id].phases.connect == 0.001


def latest_events() -> list[StateChange]:
    """What latest_states() must say about EVENTS."""
    return [EVENTS[2], EVENTS[1]]
