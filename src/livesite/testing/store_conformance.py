"""The conformance suite every :class:`~livesite.store.base.Store` must pass.

Like trio's ``check_two_way_stream``: a third-party store calls ``await check_store(store)`` in its
own tests. The store must be empty; the suite writes Results dated 2001, and compacts as of 2001,
so a failure names the behaviour that broke rather than a row that happened to be there.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

from livesite.results import (
    Artifact,
    AssertionOutcome,
    Attempt,
    Failure,
    FailureKind,
    Phases,
    Result,
    Status,
    StepResult,
)
from livesite.states import CheckState, StateChange
from livesite.store.base import Compaction, ResultQuery, Store, Uptime

BASE = datetime(2001, 1, 1, tzinfo=UTC)
_STATUSES = (Status.ok, Status.degraded, Status.failed, Status.error)
_MINUTES = 5
_PER_MINUTE = 10
_ALL = ResultQuery(check="web", limit=10_000)


async def check_store(store: Store) -> None:
    """Run every conformance check against an empty ``store``.

    Raises:
        AssertionError: the store broke the contract; the message says which part.
    """
    await check_round_trip(store)
    await check_queries(store)
    await check_events(store)
    await check_uptime_and_compaction(store)


def rich_result(**changes: object) -> Result:
    """A Result using every field, with text a careless store would mangle."""
    started = datetime(2001, 1, 1, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    fields: dict[str, object] = {
        "check": "roundtrip",
        "kind": "journey",
        "zone": "eu-west",
        "user": "u-7",
        "cohort": "canary",
        "revision": "v2.3.1",
        "started_at": started,
        "duration_seconds": 0.1 + 0.2,  # not exactly 0.3: floats must survive bit for bit
        "status": Status.failed,
        "failure": Failure(kind=FailureKind.assertion, message="body had \x00 and ☃ 🦄", step="pay"),
        "phases": Phases(resolve=0.001, connect=0.002, tls=0.003, processing=0.2, transfer=1e-7),
        "assertions": [
            AssertionOutcome(expr='body contains "ok"', observed='\x00\x01 «binary» \\ "', passed=False),
            AssertionOutcome(expr="duration < 1s", observed=None, passed=True, budget=True),
        ],
        "steps": [
            StepResult(
                name="pay",
                status=Status.failed,
                duration_seconds=0.25,
                phases=Phases(processing=0.2),
                status_code=402,
                url="https://shop.test/pay?q=a&b=ü",
            )
        ],
        "attempts": [Attempt(number=1, started_at=started, duration_seconds=0.05)],
        "tags": {"team": "payments", "emoji": "🚀", "": "empty key"},
        "artifacts": [Artifact(name="body", media_type="text/html", text="<p>hi</p>")],
        "target": "https://shop.test/",
        "status_code": 402,
        "response_bytes": 2**40,
        "redirects": ["https://shop.test/a", "https://shop.test/b"],
        "cert_not_after": datetime(2031, 1, 1, tzinfo=UTC),
    }
    fields.update(changes)
    return Result.model_validate(fields)


async def check_round_trip(store: Store) -> None:
    original = rich_result()
    naive = rich_result(id="naive-time", started_at=datetime(2001, 1, 1, 3, 0))  # naive means UTC
    await store.add_results([])
    await store.add_results([original, naive])
    await store.add_results([original])  # a retried batch: stored once, not twice
    back = await store.results(ResultQuery(check="roundtrip"))
    _expect(len(back) == 2, f"adding the same Result twice must store it once, got {len(back)} rows")
    by_id = {r.id: r for r in back}
    _expect(by_id.get(original.id) == original, "a Result read back must equal the one written")
    _expect(by_id.get(naive.id) == naive, "a Result with a naive started_at must come back unchanged")
    _expect(
        by_id[original.id].model_dump_json() == original.model_dump_json(),
        "a Result read back must serialise exactly like the one written",
    )
    _expect(await store.checks() == ["roundtrip"], "checks() must list the checks written")


def _web_results() -> list[Result]:
    """Five minutes of "web": ten results a minute, zones alternating a/b, statuses cycling."""
    results = []
    for minute in range(_MINUTES):
        for i in range(_PER_MINUTE):
            results.append(
                Result(
                    id=f"web-{minute}-{i}",
                    check="web",
                    kind="http",
                    zone="a" if i % 2 == 0 else "b",
                    started_at=BASE + timedelta(seconds=minute * 60 + i * 5),
                    duration_seconds=0.1 * (i + 1),
                    status=_STATUSES[i % 4],
                )
            )
    return results


async def check_queries(store: Store) -> None:
    web = _web_results()
    api = [
        Result(
            check="api",
            kind="tcp",
            zone="a",
            started_at=BASE + timedelta(seconds=240 + i),
            duration_seconds=0.01,
            status=Status.ok,
        )
        for i in range(5)
    ]
    # Written out of order, in two batches: the order of reads must come from started_at.
    await store.add_results(web[25:] + api)
    await store.add_results(list(reversed(web[:25])))

    newest_first = sorted(web, key=lambda r: r.started_at, reverse=True)
    got = await store.results(_ALL)
    _expect(got == newest_first, "results() must return every match, newest first")
    _expect(
        await store.results(ResultQuery(check="web", limit=3)) == newest_first[:3], "limit keeps the newest"
    )
    zone_a = await store.results(ResultQuery(check="web", zone="a", limit=10_000))
    _expect(zone_a == [r for r in newest_first if r.zone == "a"], "zone must filter")
    window = await store.results(
        ResultQuery(check="web", since=BASE + timedelta(seconds=60), until=BASE + timedelta(seconds=120))
    )
    expected = [r for r in newest_first if 60 <= (r.started_at - BASE).total_seconds() < 120]
    _expect(window == expected, "since is inclusive and until exclusive")
    _expect(len(await store.results(ResultQuery(check="api"))) == 5, "check must filter")
    everything = await store.results(ResultQuery(limit=10_000))
    _expect(len(everything) == 2 + 50 + 5, f"no filter must return all results, got {len(everything)}")
    _expect(await store.results(ResultQuery(check="nope")) == [], "an unknown check has no results")
    _expect(await store.checks() == ["api", "roundtrip", "web"], "checks() must list each name once, sorted")


async def check_events(store: Store) -> None:
    def change(check: str, seconds: int, current: CheckState) -> StateChange:
        return StateChange(
            check=check,
            zone="a",
            previous=CheckState.up,
            current=current,
            at=BASE + timedelta(seconds=seconds),
            result_id=f"{check}-{seconds}",
            reason="connect: refused ☠",
        )

    web = [
        change("web", s, c)
        for s, c in ((10, CheckState.down), (130, CheckState.up), (70, CheckState.degraded))
    ]
    api = [change("api", 100, CheckState.down)]
    await store.add_events([])
    await store.add_events(web + api)
    await store.add_events(web[:1])  # a retried batch
    got = await store.events("web")
    _expect(
        got == sorted(web, key=lambda e: e.at, reverse=True),
        "events(check) must return its changes once each, newest first",
    )
    _expect(
        await store.events(limit=2) == [web[1], api[0]], "events() must span checks, newest first, limited"
    )
    _expect(await store.events("nope") == [], "an unknown check has no events")


async def check_uptime_and_compaction(store: Store) -> None:
    everything = await store.uptime("web", None, BASE)
    _expect_counts(
        everything, total=50, ok=15, degraded=15, failed=10, error=10, what="uptime over raw results"
    )
    _expect(_close(everything.mean_duration_seconds, 0.55), "mean duration over raw results")
    zone_a = await store.uptime("web", "a", BASE)
    _expect_counts(zone_a, total=25, ok=15, degraded=0, failed=10, error=0, what="uptime for one zone")
    later = await store.uptime("web", None, BASE + timedelta(seconds=60))
    _expect(later.total == 40, f"uptime since a minute in must count 40, got {later.total}")
    empty = await store.uptime("nope", None, BASE)
    _expect(
        empty.total == 0 and empty.mean_duration_seconds is None and empty.ratio is None, "no data is zeros"
    )

    # An hour after the data, keep raw results for 3,720 s: minutes 0 and 1 of "web" roll up.
    now = BASE + timedelta(seconds=_MINUTES * 60 + 3600)
    raw_retention = 3600 + 180
    long_ago = 10 * 365 * 86400.0
    first = await store.compact(now, raw_retention, long_ago)
    _expect(first == Compaction(rolled_up=20, aggregates_deleted=0), f"first compaction: {first}")
    await _expect_same_uptime(store, everything, zone_a, later, "after compaction")
    raw_left = await store.results(_ALL)
    _expect(len(raw_left) == 30, f"compaction must delete the raw results it folded, {len(raw_left)} left")
    _expect("web" in await store.checks(), "a check whose old results were folded is still listed")

    again = await store.compact(now, raw_retention, long_ago)
    _expect(
        again == Compaction(rolled_up=0, aggregates_deleted=0), f"compacting twice must be a no-op: {again}"
    )
    await _expect_same_uptime(store, everything, zone_a, later, "after compacting twice")

    # A late result for an already folded minute is added to it, not lost or counted twice.
    late = Result(
        id="web-late",
        check="web",
        kind="http",
        zone="a",
        started_at=BASE + timedelta(seconds=7),
        duration_seconds=0.55,
        status=Status.ok,
    )
    await store.add_results([late])
    folded = await store.compact(now, raw_retention, long_ago)
    _expect(folded.rolled_up == 1, f"a late result must be folded on the next compaction: {folded}")
    with_late = await store.uptime("web", None, BASE)
    _expect_counts(
        with_late, total=51, ok=16, degraded=15, failed=10, error=10, what="uptime with a late result"
    )

    # Aggregates older than their retention go: minute 0 of "web" (zones a and b).
    aggregate_retention = (now - (BASE + timedelta(seconds=60))).total_seconds()
    pruned = await store.compact(now, raw_retention, aggregate_retention)
    _expect(
        pruned.rolled_up == 0 and pruned.aggregates_deleted == 2, f"old aggregates must be deleted: {pruned}"
    )
    # ...and so do state changes older than that (check_events stored one for "web" at BASE + 10 s).
    _expect(pruned.events_deleted == 1, f"old state changes must be deleted: {pruned}")
    _expect(len(await store.events("web")) == 2, "the newer state changes must stay")
    left = await store.uptime("web", None, BASE)
    _expect(left.total == 40, f"uptime after dropping minute 0 must count 40, got {left.total}")


async def _expect_same_uptime(
    store: Store, everything: Uptime, zone_a: Uptime, later: Uptime, when: str
) -> None:
    for before, zone in ((everything, None), (zone_a, "a"), (later, None)):
        after = await store.uptime("web", zone, before.since)
        same = after.model_copy(update={"mean_duration_seconds": before.mean_duration_seconds}) == before
        _expect(same, f"uptime {when} must equal uptime before: {after} != {before}")
        _expect(_close(after.mean_duration_seconds, before.mean_duration_seconds), f"mean duration {when}")


def _expect_counts(
    uptime: Uptime, *, total: int, ok: int, degraded: int, failed: int, error: int, what: str
) -> None:
    got = (uptime.total, uptime.ok, uptime.degraded, uptime.failed, uptime.error)
    _expect(
        got == (total, ok, degraded, failed, error),
        f"{what}: got {got}, expected {(total, ok, degraded, failed, error)}",
    )


def _close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(f"store conformance: {message}")
