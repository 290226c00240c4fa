"""Cross-zone kinds against a target that misbehaves: every failure is a Result naming the step, never a crash or a hang."""

from __future__ import annotations

import json

from livesite.checks import Credentials, Identity, RunContext, run_check
from livesite.checks.cache import CacheCheck
from livesite.checks.consistency import ConsistencyCheck
from livesite.checks.token import TokenCheck
from livesite.config.models import Zone
from livesite.results import Status
from livesite.testing.target import TargetServer


def _ctx(*zones: Zone, identity: Identity = Identity()) -> RunContext:
    return RunContext(zone=zones[0], zones=zones)


def _cache(**overrides: object) -> CacheCheck:
    spec: dict[str, object] = {
        "name": "c",
        "read": "/json",
        "value": "json.price",
        "write": {"method": "PUT", "url": "/status/204", "body": '{"price": ${run.nonce}}'},
        "poll": {"interval": "100ms", "budget": "300ms"},
        "request_timeout": "500ms",
    }
    return CacheCheck.model_validate({**spec, **overrides})


async def test_a_value_the_answer_does_not_hold_is_a_stale_read_that_says_so() -> None:
    async with TargetServer() as target:
        zone = Zone(name="zone-a", base_url=target.url().rstrip("/"))
        result = await run_check(_cache(), _ctx(zone))
    assert result.status is Status.failed
    assert "zone-a still served the old value (nothing at json.price)" in result.reason()


async def test_an_edge_that_never_answers_fails_its_read_step_within_the_request_timeout() -> None:
    async with TargetServer() as target:
        zones = (
            Zone(name="zone-a", base_url=target.url().rstrip("/")),
            Zone(name="zone-b", base_url=target.hang_url().rstrip("/")),
        )
        result = await run_check(_cache(), _ctx(*zones))
    assert result.status is Status.error
    assert result.failure is not None and result.failure.step == "read@zone-b"
    assert result.duration_seconds < 5
    assert not [s for s in result.steps if s.name == "write"], "nothing is changed when a zone cannot be read"


async def test_a_write_the_api_refuses_is_named_with_what_it_answered_and_nothing_is_polled() -> None:
    async with TargetServer() as target:
        target.respond("/admin", 403, json.dumps({"error": "forbidden"}))
        zone = Zone(name="zone-a", base_url=target.url().rstrip("/"))
        write = {"method": "PUT", "url": "/admin", "body": "${run.nonce}"}
        result = await run_check(_cache(write=write), _ctx(zone))
    assert result.status is Status.failed
    assert (
        result.reason()
        == 'script at step \'write\': write answered 403, expected 2xx: {"error": "forbidden"}'
    )


def _token(**overrides: object) -> TokenCheck:
    spec: dict[str, object] = {
        "name": "t",
        "login": {
            "method": "POST",
            "url": "/login",
            "json": {"u": "${user.username}", "p": "${user.password}"},
        },
        "probe": {"url": "/me"},
        "ttl": "1s",
        "request_timeout": "500ms",
    }
    return TokenCheck.model_validate({**spec, **overrides})


async def test_a_login_without_a_token_or_a_user_fails_with_the_reason() -> None:
    user = Identity(user="u", credentials=Credentials(username="u@example.test", password="pw-0123456789"))
    async with TargetServer() as target:
        target.respond("/login", 200, "<html>maintenance</html>")
        zone = Zone(name="zone-a", base_url=target.url().rstrip("/"))
        garbage = await run_check(_token(), RunContext(zone=zone, zones=(zone,), identity=user))
        nobody = await run_check(_token(), RunContext(zone=zone, zones=(zone,)))
    assert garbage.status is Status.failed
    assert garbage.reason() == "script at step 'login': the login answer has no token at json.access_token"
    assert nobody.status is Status.failed
    assert (
        "${user.username} has no value here (hint: run the check as a fake user with credentials)"
        in nobody.reason()
    )


async def test_a_token_that_outlives_what_the_check_waits_for_fails_before_waiting() -> None:
    user = Identity(user="u", credentials=Credentials(username="u", password="pw-0123456789"))
    async with TargetServer() as target:
        target.respond("/login", 200, json.dumps({"access_token": "opaque-abc", "expires_in": 86400}))
        zone = Zone(name="zone-a", base_url=target.url().rstrip("/"))
        result = await run_check(_token(), RunContext(zone=zone, zones=(zone,), identity=user))
    assert result.status is Status.failed
    assert "the token lives 1d (expires_in), longer than this check waits (1s)" in result.reason()
    assert "opaque-abc" not in result.model_dump_json()


async def test_a_zone_that_never_answers_is_named_and_the_others_are_still_compared() -> None:
    async with TargetServer() as target:
        zones = (
            Zone(name="zone-a", base_url=target.url().rstrip("/")),
            Zone(name="zone-b", base_url=target.url().rstrip("/")),
            Zone(name="zone-c", base_url=target.hang_url().rstrip("/")),
        )
        spec = ConsistencyCheck.model_validate(
            {"name": "z", "url": "/json", "compare": ["status", "body"], "request_timeout": "300ms"}
        )
        result = await run_check(spec, _ctx(*zones))
    assert result.status is Status.error
    assert result.failure is not None and result.failure.step == "zone-c"
    assert "zone-c: GET" in result.reason() and "no answer within 0.3s" in result.reason()
    assert [s.status.passed for s in result.steps] == [True, True, False]


async def test_a_consistency_check_with_one_zone_to_compare_fails_rather_than_passing_vacuously() -> None:
    async with TargetServer() as target:
        zone = Zone(name="zone-a", base_url=target.url().rstrip("/"))
        result = await run_check(ConsistencyCheck(name="z", url="/json"), _ctx(zone))
    assert result.status is Status.failed
    assert "only zone-a to compare" in result.reason()


async def test_an_edge_that_stumbles_after_the_write_is_polled_until_it_serves_the_new_value() -> None:
    import asyncio

    from livesite.results import CacheObservation

    async with TargetServer() as target:
        target.respond("/obj", 200, json.dumps({"price": 100}))

        async def edge_refills() -> None:
            # After the write: 503s for a while, then the new value (a cache that refills slowly).
            async with asyncio.timeout(5):
                while not any(r.method == "PUT" for r in target.received):
                    await asyncio.sleep(0.01)
            written = json.loads(next(r for r in target.received if r.method == "PUT").body)
            target.respond("/obj", 503, "refilling")
            await asyncio.sleep(0.4)  # the site's behaviour under test (a slow refill), not a synchronisation
            target.respond("/obj", 200, json.dumps(written))

        zone = Zone(name="zone-a", base_url=target.url().rstrip("/"))
        spec = _cache(
            read="/obj",
            write={"method": "PUT", "url": "/status/204", "body": '{"price": ${run.nonce}}'},
            poll={"interval": "100ms", "budget": "3s"},
        )
        refill = asyncio.create_task(edge_refills())
        result = await run_check(spec, _ctx(zone))
        await refill
    assert result.status is Status.ok, result.reason()
    assert isinstance(result.observation, CacheObservation)
    assert (result.observation.zones[0].consistent_after_seconds or 0) >= 0.3
