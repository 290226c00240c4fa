"""The conformance suite every :class:`~livesite.store.base.Store` must pass.

Like trio's ``check_two_way_stream``: a third-party store calls ``await check_store(store)`` in its
own tests. The store must be empty; the suite writes Results dated 2001, and compacts as of 2001,
so a failure names the behaviour that broke rather than a row that happened to be there.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

from livesite.results import (
    MIXED,
    Artifact,
    AssertionOutcome,
    Attempt,
    DnsObservation,
    Failure,
    FailureKind,
    HttpObservation,
    Phases,
    Result,
    Status,
    StepResult,
    TlsInfo,
)
from livesite.states import CheckState, StateChange
from livesite.store.base import Compaction, ResultQuery, SampleQuery, Samples, Store, Uptime

BASE = datetime(2001, 1, 1, tzinfo=UTC)
# Days after BASE, so compacting as of BASE + 65 minutes leaves these Results alone.
SHOP = BASE + timedelta(days=2)
JUDGED = BASE + timedelta(days=3)
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
    await check_filters(store)
    await check_samples(store)
    await check_events(store)
    await check_uptime_and_compaction(store)


def rich_result(**changes: object) -> Result:
    """A Result using every field, with text a careless store would mangle."""
    started = datetime(2001, 1, 1, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    expiry = datetime(2031, 1, 1, tzinfo=UTC)
    fields: dict[str, object] = {
        "check": "roundtrip",
        "kind": "journey",
        "zone": "eu-west",
        "user": "u-7",
        "cohort": "canary",
        "revision": "mixed",
        "revisions": ["v2.3.1", "v2.3.2"],
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
                name="lookup",
                status=Status.ok,
                duration_seconds=0.01,
                target="shop.test A",
                observation=DnsObservation(rcode="NOERROR", answers=["192.0.2.1"], answer_rrs=1),
            ),
            StepResult(
                name="pay",
                status=Status.failed,
                started_offset_seconds=0.05,
                duration_seconds=0.25,
                phases=Phases(processing=0.2),
                target="https://shop.test/pay?q=a&b=ü",
                revision="v2.3.2",
                observation=HttpObservation(status_code=402, redirects=["https://shop.test/pay/"]),
                artifacts=[Artifact(name="screen", media_type="image/png", uri="file:///tmp/pay%201.png")],
            ),
        ],
        "attempts": [Attempt(number=1, started_at=started, duration_seconds=0.05)],
        "tags": {"team": "payments", "emoji": "🚀", "": "empty key"},
        "artifacts": [Artifact(name="body", media_type="text/html", uri="data:text/html,%3Cp%3Ehi%3C/p%3E")],
        "target": "https://shop.test/",
        "observation": HttpObservation(
            status_code=402,
            content_length=-1,
            body_bytes=2**40,
            redirects=["https://shop.test/a", "https://shop.test/b"],
            http_version="1.1",
            ip_protocol=6,
            tls=TlsInfo(version="TLS 1.3", earliest_expiry=expiry, chain_expiry=expiry, leaf_expiry=expiry),
        ),
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


def _shop_results() -> list[Result]:
    """ "shop", two days in: every combination of revision, cohort, user, status and tags the filters
    tell apart, in both zones, one Result every 7 s."""
    revisions = ("v1", "v2", "", MIXED)
    cohorts = ("", "canary", "stable")
    users = ("", "alice", "bob", "carol", "dave")
    tag_sets: tuple[dict[str, str], ...] = (
        {},
        {"team": "pay"},
        {"team": "search", "tier": "1"},
        {"team": "pay", "tier": "1"},
        {"tier": "2"},
    )
    return [
        Result(
            check="shop",
            kind="journey",
            zone="ab"[i % 2],
            revision=revisions[i % 4],
            revisions=["v1", "v2"] if revisions[i % 4] == MIXED else [],
            cohort=cohorts[i % 3],
            user=users[i % 5],
            status=_STATUSES[(i // 3) % 4],
            tags=tag_sets[(i // 2) % 5],
            started_at=SHOP + timedelta(seconds=7 * i),
            duration_seconds=0.01 * (i + 1),
        )
        for i in range(120)
    ]


def matches(query: ResultQuery, result: Result) -> bool:
    """What ``query`` means for one Result, spelled out in Python: the reference the stores' SQL
    is held to."""
    at = result.started_at.replace(tzinfo=result.started_at.tzinfo or UTC)
    statuses = query.statuses
    return (
        (query.check is None or result.check == query.check)
        and (query.zone is None or result.zone == query.zone)
        and (query.since is None or at >= query.since.replace(tzinfo=query.since.tzinfo or UTC))
        and (query.until is None or at < query.until.replace(tzinfo=query.until.tzinfo or UTC))
        and (query.revision is None or result.revision == query.revision)
        and (query.cohort is None or result.cohort == query.cohort)
        and (query.user is None or result.user == query.user)
        and (statuses is None or result.status in statuses)
        and all(result.tags.get(tag) == value for tag, value in query.tags.items())
    )


async def check_filters(store: Store) -> None:
    shop = _shop_results()
    await store.add_results(shop[::2])
    await store.add_results(shop[1::2])
    await store.add_results(shop[:10])  # a retried batch stores its tags once, too
    everything = await store.results(ResultQuery(limit=10_000))
    _expect(len(everything) == 2 + 50 + 5 + 120, f"a retried batch must be stored once: {len(everything)}")
    failed_or_error = frozenset({Status.failed, Status.error})
    passing = frozenset({Status.ok, Status.degraded})
    queries = [
        ResultQuery(check="shop", revision="v1"),
        ResultQuery(check="shop", revision=""),
        ResultQuery(check="shop", revision=MIXED),
        ResultQuery(revision="v2", limit=1000),
        ResultQuery(check="shop", cohort="canary"),
        ResultQuery(cohort="", limit=1000),
        ResultQuery(cohort="canary"),  # "roundtrip" has this cohort too
        ResultQuery(check="shop", user="alice"),
        ResultQuery(user="u-7"),
        ResultQuery(check="shop", status=Status.failed),
        ResultQuery(status=Status.error, limit=1000),
        ResultQuery(check="shop", status=failed_or_error),
        ResultQuery(check="shop", status=passing),
        ResultQuery(status=Status.ok, limit=1000),
        ResultQuery(check="shop", tags={"team": "pay"}),
        ResultQuery(tags={"team": "pay", "tier": "1"}),
        ResultQuery(tags={"team": "payments"}),  # "roundtrip"'s
        ResultQuery(tags={"": "empty key"}),
        ResultQuery(tags={"team": "nope"}),
        ResultQuery(
            check="shop",
            zone="b",
            revision="v2",
            status=failed_or_error,
            tags={"tier": "1"},
            since=SHOP + timedelta(seconds=70),
            until=SHOP + timedelta(seconds=600),
        ),
        ResultQuery(
            tags={"team": "pay"}, since=SHOP + timedelta(seconds=100), until=SHOP + timedelta(seconds=400)
        ),
        ResultQuery(check="shop", user="bob", cohort="stable", status=Status.degraded, limit=2),
    ]
    for query in queries:
        got = await store.results(query)
        expected = [r for r in everything if matches(query, r)][: query.limit]
        _expect(
            got == expected,
            f"{query!r} must return the {len(expected)} matching Results newest first, got "
            f"{len(got)}: {[r.id for r in got][:5]}...",
        )
        _expect(bool(got) or query.tags == {"team": "nope"}, f"{query!r} has matches in the data")


async def check_samples(store: Store) -> None:
    """Samples per revision (and cohort) and bucket, checked against the same sums in Python."""
    judged = _judged_results()
    await store.add_results(judged)
    until = JUDGED + timedelta(seconds=360)
    queries = [
        SampleQuery(check="judged", zone="a", since=JUDGED, until=until, interval_seconds=120),
        SampleQuery(
            check="judged",
            zone="a",
            since=JUDGED,
            until=until,
            interval_seconds=120,
            groups=("v2", MIXED, "", "v9"),
        ),
        SampleQuery(check="judged", since=JUDGED, until=until, limit=2),
        SampleQuery(check="judged", since=JUDGED, until=until, interval_seconds=100, limit=3),
        SampleQuery(check="judged", zone="b", since=JUDGED, until=until, by="cohort", interval_seconds=180),
        SampleQuery(check="judged", since=JUDGED + timedelta(seconds=61), until=until, limit=0),
    ]
    for query in queries:
        got = await store.samples(query)
        expected = expected_samples(judged, query)
        _expect(got == expected, f"samples({query!r}) must be {expected}, got {got}")
    first = await store.samples(queries[0])
    _expect(
        [(s.group, s.since, s.until) for s in first[:3]]
        == [
            ("v1", JUDGED + timedelta(seconds=120 * b), JUDGED + timedelta(seconds=120 * (b + 1)))
            for b in range(3)
        ],
        "samples come by group, then bucket in time order, each bucket with its own window",
    )
    _expect(
        all(s.group not in ("", MIXED) for s in first), 'revisions "" and "mixed" count only when asked for'
    )
    limited = await store.samples(queries[2])
    _expect(all(len(s.durations_seconds) <= 2 and s.truncated for s in limited), "limit bounds the samples")
    none = await store.samples(SampleQuery(check="nope", since=JUDGED, until=until))
    _expect(none == [], "a check without results has no samples")


def _judged_results() -> list[Result]:
    """ "judged", three days in: six minutes of two revisions side by side in two zones, plus Results
    without a revision and with a mixed one, every status, durations all different."""
    revisions = ("v1", "v2", "v1", "v2", MIXED, "")
    return [
        Result(
            check="judged",
            kind="http",
            zone="ab"[(i // 6) % 2],
            revision=revisions[i % 6],
            revisions=["v1", "v2"] if revisions[i % 6] == MIXED else [],
            cohort=("canary", "stable", "")[i % 3],
            status=_STATUSES[(i // 5) % 4] if i % 7 else Status.ok,
            started_at=JUDGED + timedelta(seconds=3 * i),
            duration_seconds=0.001 * (i + 1) + (0.5 if revisions[i % 6] == "v2" else 0.0),
        )
        for i in range(120)
    ]


def expected_samples(results: list[Result], query: SampleQuery) -> list[Samples]:
    """What ``query`` means, summed in Python from the Results written: the stores' reference."""
    since = query.since.replace(tzinfo=query.since.tzinfo or UTC)
    until = query.until.replace(tzinfo=query.until.tzinfo or UTC)
    step = (until - since).total_seconds() if query.interval_seconds is None else query.interval_seconds

    def group_of(r: Result) -> str:
        return r.revision if query.by == "revision" else r.cohort

    chosen = [
        r
        for r in results
        if r.check == query.check
        and (query.zone is None or r.zone == query.zone)
        and since <= r.started_at < until
    ]
    left_out = {"", MIXED} if query.by == "revision" else {""}
    groups = (
        list(dict.fromkeys(query.groups))
        if query.groups is not None
        else sorted({group_of(r) for r in chosen} - left_out)
    )
    samples = []
    for group in groups:
        for bucket in range(query.buckets):
            start = since + timedelta(seconds=step * bucket)
            end = min(since + timedelta(seconds=step * (bucket + 1)), until)
            inside = [r for r in chosen if group_of(r) == group and start <= r.started_at < end]
            newest = sorted((r for r in inside if r.passed), key=lambda r: r.started_at, reverse=True)
            samples.append(
                Samples(
                    group=group,
                    since=start,
                    until=end,
                    durations_seconds=tuple(r.duration_seconds for r in newest[: query.limit]),
                    failed=sum(not r.passed for r in inside),
                    total=len(inside),
                )
            )
    return samples


def _change(check: str, seconds: int, current: CheckState, zone: str = "a") -> StateChange:
    return StateChange(
        check=check,
        zone=zone,
        previous=CheckState.up,
        current=current,
        at=BASE + timedelta(seconds=seconds),
        result_id=f"{check}-{seconds}",
        reason="connect: refused ☠",
    )


async def check_events(store: Store) -> None:
    _expect(await store.latest_states() == [], "a store without state changes has no latest states")
    web = [
        _change("web", s, c)
        for s, c in ((10, CheckState.down), (130, CheckState.up), (70, CheckState.degraded))
    ]
    api = [_change("api", 100, CheckState.down)]
    # Two zones of one check, each with its own latest change (the older zone "b" one included).
    latest = [
        _change("latest", 30, CheckState.up),
        _change("latest", 20, CheckState.down),
        _change("latest", 25, CheckState.degraded, zone="b"),
    ]
    await store.add_events([])
    await store.add_events(web + api + latest)
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
    _expect(
        await store.latest_states() == [api[0], latest[0], latest[2], web[1]],
        "latest_states() must give the newest change of each (check, zone), by check then zone",
    )


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
    latest_before = await store.latest_states()
    pruned = await store.compact(now, raw_retention, aggregate_retention)
    _expect(
        pruned.rolled_up == 0 and pruned.aggregates_deleted == 2, f"old aggregates must be deleted: {pruned}"
    )
    # ...and so do state changes older than that ("web" at BASE + 10 s, "latest" in zone a at 20 s),
    # but not the newest of a check in a zone, however old: it is the check's current state.
    _expect(pruned.events_deleted == 2, f"old state changes must be deleted: {pruned}")
    _expect(len(await store.events("web")) == 2, "the newer state changes must stay")
    _expect(len(await store.events("latest")) == 2, "the newest change of each zone must stay, however old")
    _expect(await store.latest_states() == latest_before, "compaction must keep every latest state")
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
