"""What the cross-zone kinds (cache, token, consistency) refuse at load, how they are planned, what they export."""

from __future__ import annotations

import base64
import json
import math
import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livesite.checks import KINDS
from livesite.checks.consistency import explain, judge
from livesite.checks.token import TokenCheck, jwt_expiry, lifetime
from livesite.config import loads
from livesite.errors import ConfigError
from livesite.monitor import plan
from livesite.results import CacheObservation, Result, Status, TokenObservation, ZoneCache

ZONES = """zones:
  - {name: zone-a, base_url: "http://127.0.0.1:1"}
  - {name: zone-b, base_url: "http://127.0.0.1:2"}
checks:
"""
CACHE = """  - name: c
    kind: cache
    read: /p/1
    value: json.price
    write: {method: PUT, url: /admin/p/1, body: '{"price": ${run.nonce}}'}
"""
TOKEN = """  - name: t
    kind: token
    login: {method: POST, url: /login, json: {user: "${user.username}", password: "${user.password}"}}
    probe: {url: /me}
"""


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as e:
        loads(ZONES + text, file="c.yaml")
    return str(e.value)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (CACHE + "    zones: [zone-a, zone-q]\n", 10, "names unknown zone 'zone-q'"),
        (CACHE + "    poll: {interval: 2s, budget: 1s}\n", 10, "is shorter than the poll interval"),
        (CACHE + "    poll: {interval: 10ms}\n", 10, "poll at most every 50ms"),
        (
            CACHE + "    timeout: 5s\n    poll: {budget: 30s}\n",
            10,
            "timeout (check 'c'): 5s cannot cover the poll budget",
        ),
        (CACHE.replace("${run.nonce}", "12"), 9, "write (check 'c'): the change must carry ${run.nonce}"),
        (CACHE + "    restore: {method: PUT, url: /x, body: '${steps.old.value}'}\n", 10, "is not extracted"),
        (CACHE.replace("json.price", "price"), 8, "is not a JSON path"),
        (
            TOKEN + "    timeout: 30s\n    ttl: 5m\n",
            9,
            "30s cannot cover a token lifetime of up to 5m plus the 2s skew",
        ),
        (TOKEN + "    max_lifetime: 2h\n", 9, "max_lifetime (check 't'): a run cannot wait"),
        (TOKEN + "    logout: {method: POST, url: '/logout?r=${steps.logout.x}'}\n", 9, "is not extracted"),
        (TOKEN.replace("user.password", "user.passwd"), 7, "${user.passwd}: a user has"),
        (
            TOKEN + "    refresh_token: null\n    refresh: {method: POST, url: /r}\n",
            10,
            "needs refresh_token",
        ),
        ("  - {name: z, kind: consistency, url: /v, compare: [len(json)]}\n", 5, "not a JSON path"),
        ("  - {name: z, kind: consistency, url: '/v?${steps.a.b}'}\n", 5, "is not extracted"),
        ("  - {name: z, kind: consistency, url: /v, compare: []}\n", 5, "name at least one"),
        ("  - {name: z, kind: consistency, url: /v, zones: [zone-a]}\n", 5, "list at least two"),
        (CACHE.replace("read: /p/1", 'read: {url: /p/1, headers: {X-A: "a\\nb"}}'), 7, "control character"),
        (CACHE.replace("read: /p/1", "read: '/p 1'"), 7, "holds a space"),
        (CACHE.replace("read: /p/1", "read: {url: /p/1, status: [999]}"), 7, "less than or equal to 599"),
        (TOKEN.replace("probe: {url: /me}", "probe: {url: /me, json: {a: .nan}}"), 8, "NaN or Infinity"),
        (TOKEN + "    refused: []\n", 9, "at least 1 item"),
    ],
)
def test_a_cross_zone_check_that_could_only_fail_at_run_time_is_a_config_error(
    text: str, line: int, message: str
) -> None:
    error = _error(text)
    assert message in error
    assert f"c.yaml:{line}" in error


def test_a_cross_zone_check_runs_once_from_the_first_zone_it_visits_and_its_timeout_covers_the_wait() -> None:
    text = (
        CACHE
        + "    poll: {budget: 20s}\n"
        + TOKEN
        + "    ttl: 5m\n"
        + "  - {name: z, kind: consistency, url: /v, zones: [zone-b, zone-a]}\n"
    )
    config = loads(ZONES + text)
    jobs = [(j.check.name, j.zone) for j in plan(config).jobs]
    assert jobs == [("c", "zone-a"), ("t", "zone-a"), ("z", "zone-b")]
    cache, token, _ = config.checks
    assert cache.timeout == 20 + 6 * 10  # the poll budget and its requests
    assert token.timeout == 300 + 2 + 10 * 10  # the lifetime, the skew and the requests
    assert token.interval == token.timeout, "not scheduled more often than a run can finish"


def _jwt(claims: dict[str, object]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.c2lnbmF0dXJl"


def test_a_token_lifetime_is_learnt_from_the_jwt_first_then_expires_in_then_the_ttl() -> None:
    spec = TokenCheck.model_validate(
        {"name": "t", "login": {"url": "/login"}, "probe": {"url": "/me"}, "ttl": "1m"}
    )
    assert jwt_expiry(_jwt({"exp": 1000, "sub": "u"})) == 1000.0
    assert jwt_expiry(_jwt({"sub": "u"})) is None and jwt_expiry("not.a.jwt!") is None
    assert jwt_expiry(_jwt({"exp": True})) is None and jwt_expiry("a.b") is None
    body = b'{"expires_in": 120}'
    assert lifetime(spec, _jwt({"exp": 1000}), body, now=900) == (1000.0, "jwt")
    assert lifetime(spec, "opaque", body, now=900) == (1020.0, "expires_in")
    assert lifetime(spec, "opaque", b'{"expires_in": "soon"}', now=900) == (960.0, "ttl")
    no_ttl = spec.model_copy(update={"ttl": None})
    assert lifetime(no_ttl, "opaque", b"{}", now=900) is None


def test_zones_differ_from_a_majority_or_each_is_listed_without_one() -> None:
    assert judge({"a": "v2", "b": "v2"}) == ("v2", [])
    assert judge({"a": "v2", "b": "v1", "c": "v2"}) == ("v2", ["b"])
    assert judge({"a": "v2", "b": "v1"}) == (None, ["a", "b"])
    assert judge({"a": "1", "b": "2", "c": "3", "d": "1"}) == (None, ["a", "b", "c", "d"])
    assert explain(["revision"], {"a": "v2", "b": "", "c": "v2"}, "v2", ["b"]) == (
        "b differs on revision: (none) where a, c say v2"
    )


def test_each_cross_zone_kind_exports_its_own_metrics_per_zone() -> None:
    def result(kind: str, observation: object) -> Result:
        return Result.model_validate(
            {
                "check": "c",
                "kind": kind,
                "zone": "zone-a",
                "started_at": datetime.now(UTC),
                "duration_seconds": 1.0,
                "status": Status.ok,
                "observation": observation,
            }
        )

    cache = CacheObservation(
        zones=[
            ZoneCache(zone="zone-a", before="HIT", consistent_after_seconds=0.25),
            ZoneCache(zone="zone-b", before="MISS", stale_reads=4),
        ]
    )
    samples = list(KINDS["cache"].samples(result("cache", cache)))
    assert ("probe_cache_consistency_seconds", 'target_zone="zone-a"', 0.25) in samples
    assert ("probe_cache_stale", 'target_zone="zone-b"', 1) in samples
    assert ("probe_cache_hit", 'target_zone="zone-a"', 1) in samples
    assert not [s for s in samples if s[0] == "probe_cache_consistency_seconds" and "zone-b" in s[1]]
    token = TokenObservation(lifetime_seconds=300, accepted_after_expiry=["zone-b"])
    assert list(KINDS["token"].samples(result("token", token)))[:2] == [
        ("probe_token_lifetime_seconds", "", 300),
        ("probe_token_accepted_after_expiry", "", 1),
    ]
    for kind in ("cache", "token", "consistency"):
        names = {m.name for m in KINDS[kind].metrics}
        assert all(n.startswith("probe_") for n in names)


_SCALAR = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "-1s",
            "1e9",
            ".nan",
            "30s",
            "10ms",
            "2h",
            "json.x",
            "json[",
            "${run.nonce}",
            "${steps.a.b}",
            "${user.password}",
            "/p",
            "http://h/",
            "a\nb",
            "[1, 2]",
            "{a: 1}",
            "null",
            "true",
            "999",
        ]
    ),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
_REQUEST = st.one_of(
    _SCALAR,
    st.fixed_dictionaries(
        {"url": _SCALAR},
        optional={
            "method": _SCALAR,
            "body": _SCALAR,
            "json": _SCALAR,
            "status": st.lists(_SCALAR, max_size=2),
            "headers": st.dictionaries(st.text(max_size=5), _SCALAR, max_size=2),
        },
    ),
)
_SPECS = {
    "cache": {
        "read": _REQUEST,
        "write": _REQUEST,
        "purge": _REQUEST,
        "restore": _REQUEST,
        "value": _SCALAR,
        "pattern": _SCALAR,
        "poll": st.fixed_dictionaries({}, optional={"interval": _SCALAR, "budget": _SCALAR}),
        "timeout": _SCALAR,
        "request_timeout": _SCALAR,
    },
    "token": {
        "login": _REQUEST,
        "probe": _REQUEST,
        "refresh": _REQUEST,
        "logout": _REQUEST,
        "ttl": _SCALAR,
        "max_lifetime": _SCALAR,
        "skew": _SCALAR,
        "timeout": _SCALAR,
        "access_token": _SCALAR,
        "refused": st.lists(_SCALAR, max_size=2),
        "expiry": _SCALAR,
    },
    "consistency": {
        "url": _SCALAR,
        "compare": st.lists(_SCALAR, max_size=3),
        "zones": st.lists(_SCALAR, max_size=3),
        "headers": st.dictionaries(st.text(max_size=5), _SCALAR, max_size=2),
    },
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(_SPECS)).flatmap(
        lambda kind: st.fixed_dictionaries(
            {"name": st.just("x"), "kind": st.just(kind)}, optional=_SPECS[kind]
        )
    )
)
def test_any_cross_zone_spec_loads_and_plans_or_says_where_it_is_wrong(check: dict[str, object]) -> None:
    text = ZONES + "  - " + json.dumps(check, allow_nan=True) + "\n"
    try:
        config = loads(text, file="c.yaml")
    except ConfigError as e:
        assert re.match(r"^c\.yaml:\d+(:\d+)?: ", str(e)), str(e)
        return
    for job in plan(config).jobs:
        timeout = job.timeout_seconds  # the check's own, derived, or the defaults'
        assert math.isfinite(timeout) and timeout > 0
        assert job.zone == "zone-a" or job.check.zones


def test_metrics_name_the_zone_at_fault_next_to_the_zone_the_check_ran_from() -> None:
    from livesite.monitor.metrics import Snapshot, render

    result = Result.model_validate(
        {
            "check": "price",
            "kind": "cache",
            "zone": "zone-a",
            "started_at": datetime.now(UTC),
            "duration_seconds": 1.0,
            "status": Status.failed,
            "observation": CacheObservation(zones=[ZoneCache(zone="zone-b", stale_reads=3)]),
        }
    )
    exposition = render(Snapshot([result], [], [], [0] * 13, 0.0, 0, 0, 0))
    assert "# TYPE probe_cache_stale gauge" in exposition
    labels = 'check="price",zone="zone-a",cohort="",revision=""'
    assert f'probe_cache_stale{{{labels},target_zone="zone-b"}} 1' in exposition
    assert f"probe_success{{{labels}}} 0" in exposition


def test_a_cross_zone_run_starts_in_its_own_zone_then_visits_the_others_in_their_listed_order() -> None:
    from livesite.checks import RunContext
    from livesite.checks.requests import visited_zones
    from livesite.config.models import Zone

    zones = tuple(Zone(name=n) for n in ("zone-a", "zone-b", "zone-c"))
    from livesite.checks.consistency import ConsistencyCheck

    spec = ConsistencyCheck(name="z", url="/v", zones=["zone-c", "zone-a"])
    assert [z.name for z in visited_zones(spec, RunContext(zone=zones[2], zones=zones))] == [
        "zone-c",
        "zone-a",
    ]
    assert [z.name for z in visited_zones(spec, RunContext(zone=zones[0], zones=zones))] == [
        "zone-a",
        "zone-c",
    ]
    every = spec.model_copy(update={"zones": None})
    assert [z.name for z in visited_zones(every, RunContext(zone=zones[1], zones=zones))] == [
        "zone-b",
        "zone-a",
        "zone-c",
    ]
