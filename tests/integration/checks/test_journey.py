"""The journey kind against a real local server: variables between steps, secrets masked, sleeps that
do not block, cleanup after a failure, a timeout and a cancellation, script journeys."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from livesite.checks import Identity, RunContext, run_check
from livesite.checks.journey import JourneyCheck
from livesite.config import loads
from livesite.config.models import Zone
from livesite.probe import ProbeService
from livesite.results import FailureKind, Result, Status
from livesite.testing.target import TargetServer

TOKEN = "tok-3f9a-SECRET-77c1d2"


@pytest.fixture
async def target() -> AsyncIterator[TargetServer]:
    async with TargetServer() as server:
        server.respond(
            "/login",
            200,
            json.dumps({"token": TOKEN, "user": {"id": 7}}),
            {
                "Content-Type": "application/json",
                "X-Request-Id": "req-42",
                "Set-Cookie": "sid=cookie-SECRET-9; Path=/",
            },
        )
        yield server


def _journey(target: TargetServer, body: str) -> JourneyCheck:
    text = f"""
zones: [{{name: local, base_url: "{target.url("/").rstrip("/")}"}}]
checks:
  - name: j
    kind: journey
{body}
"""
    spec = loads(text).checks[0]
    assert isinstance(spec, JourneyCheck)
    return spec


def _ctx(target: TargetServer, identity: Identity = Identity()) -> RunContext:
    zone = Zone(name="local", base_url=target.url("/").rstrip("/"))
    return RunContext(zone=zone, zones=(zone,), identity=identity)


async def test_extracted_values_reach_later_steps_and_secrets_never_reach_the_result(
    target: TargetServer,
) -> None:
    spec = _journey(
        target,
        """
    steps:
      - name: login
        url: /login
        extract:
          token: json.token
          uid: json.user.id
          request: header.X-Request-Id
          sid: cookie.sid
          first: 'regex:"token": "(tok-[0-9a-f]+)'
      - name: echo
        method: POST
        url: /echo?uid=${steps.login.uid}
        headers: {Authorization: "Bearer ${steps.login.token}", X-Request: "${steps.login.request}"}
        json: {first: "${steps.login.first}", uid: "${steps.login.uid}"}
        assert: [body contains "req-42", 'body contains "${steps.login.token}"', 'body contains "sid=${steps.login.sid}"']
""",
    )
    result = await run_check(spec, _ctx(target))
    assert result.status is Status.ok, result.reason()
    assert [s.name for s in result.steps] == ["login", "echo"]
    sent = target.received[-1]
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.query["uid"] == "7" and json.loads(sent.body) == {"first": "tok-3f9a", "uid": "7"}
    shown = result.model_dump_json()
    assert TOKEN not in shown and "cookie-SECRET-9" not in shown, "tokens and cookies learnt are masked"
    assert "****" in shown


async def test_a_failing_step_stops_the_journey_names_the_step_and_cleanup_still_runs(
    target: TargetServer,
) -> None:
    spec = _journey(
        target,
        """
    steps:
      - {name: login, url: /login, extract: {token: json.token}}
      - {name: pay, url: /status/502, assert: [status == 201]}
      - {name: never, url: /echo?never=1}
    cleanup:
      - {name: logout, url: "/echo?logout=${steps.login.token}"}
      - {name: unknown-var-skipped, url: /echo?after=1}
""",
    )
    result = await run_check(spec, _ctx(target))
    assert result.status is Status.failed
    assert result.failure is not None and result.failure.step == "pay"
    assert result.reason() == "assertion at step 'pay': expected status == 201, observed 502"
    assert [(s.name, s.status) for s in result.steps] == [
        ("login", Status.ok),
        ("pay", Status.failed),
        ("logout", Status.ok),
        ("unknown-var-skipped", Status.ok),
    ]
    assert "never" not in {r.query.get("never") for r in target.received}
    assert any(r.query.get("logout") == TOKEN for r in target.received), "cleanup used the token"


async def test_cleanup_runs_after_the_journey_runs_out_of_time(target: TargetServer) -> None:
    spec = _journey(
        target,
        """
    timeout: 300ms
    cleanup_timeout: 2s
    steps:
      - {name: login, url: /login}
      - {name: slow, url: /delay?ms=3000}
    cleanup:
      - {name: logout, url: /echo?logout=1}
""",
    )
    result = await run_check(spec, _ctx(target))
    assert result.status is Status.error
    assert result.failure is not None and result.failure.kind is FailureKind.timeout
    assert result.failure.step == "slow"
    assert [s.name for s in result.steps] == ["login", "slow", "logout"]
    assert result.steps[-1].status is Status.ok


async def test_cleanup_runs_when_the_run_is_cancelled(target: TargetServer) -> None:
    spec = _journey(
        target,
        """
    steps:
      - {name: slow, url: /delay?ms=5000}
    cleanup:
      - {name: logout, url: /echo?logout=cancelled}
""",
    )
    run = asyncio.ensure_future(run_check(spec, _ctx(target)))
    while not any(r.path == "/delay" for r in target.received) and not run.done():
        await asyncio.sleep(0.01)  # polls for the server to have the request (not timing the test)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert any(r.query.get("logout") == "cancelled" for r in target.received)


async def test_a_sleep_step_does_not_block_other_checks(target: TargetServer) -> None:
    sleeper = _journey(
        target, "    steps:\n      - {name: wait, sleep: 500ms}\n      - {name: after, url: /echo}\n"
    )
    quick = _journey(target, "    steps:\n      - {name: only, url: /echo?quick=1}\n")
    finished: list[str] = []

    async def one(name: str, spec: JourneyCheck) -> Result:
        result = await run_check(spec, _ctx(target))
        finished.append(name)
        return result

    slow, fast = await asyncio.gather(one("sleeper", sleeper), one("quick", quick))
    assert finished == ["quick", "sleeper"]
    assert slow.status is Status.ok and fast.status is Status.ok
    assert slow.steps[0].name == "wait" and slow.steps[0].duration_seconds >= 0.5


async def test_a_script_journey_records_its_steps_and_masks_what_it_learnt(target: TargetServer) -> None:
    spec = _journey(target, "    script: journey_scripts:login_then_me\n")
    result = await run_check(
        spec, _ctx(target, Identity(user="u-1", headers=(("X-Livesite-Synthetic", "u-1"),)))
    )
    assert result.status is Status.ok, result.reason()
    assert [s.name for s in result.steps] == ["login", "me"]
    assert TOKEN not in result.model_dump_json()
    failing = _journey(target, "    script: journey_scripts:fails_for_a_business_reason\n")
    failed = await run_check(failing, _ctx(target))
    assert failed.status is Status.failed
    assert failed.reason() == "script at step 'basket': the basket is empty after adding an item"


def test_a_script_that_is_not_an_async_function_is_a_config_error(target: TargetServer) -> None:
    from livesite.errors import ConfigError

    with pytest.raises(ConfigError, match="has no async function 'not_async'"):
        _journey(target, "    script: journey_scripts:not_async\n")


async def test_every_request_of_a_leased_user_carries_the_marker_header_and_the_password_stays_secret(
    target: TargetServer, tmp_path: Path
) -> None:
    secret_file = tmp_path / "qa-1.password"
    secret_file.write_text("planted-PASSWORD-31337\n")
    text = f"""
zones: [{{name: local, base_url: "{target.url("/").rstrip("/")}"}}]
store: {{url: "sqlite:///{tmp_path / "store.db"}"}}
users:
  marker_header: X-Synthetic-User
  cohorts:
    - name: staff
      attributes: {{plan: pro}}
      users:
        - {{id: qa-1, username: qa1@example.test, password_file: "{secret_file}"}}
checks:
  - name: me
    kind: journey
    cohort: staff
    steps:
      - name: login
        method: POST
        url: /echo
        json: {{email: "${{user.username}}", password: "${{user.password}}", plan: "${{user.plan}}"}}
        assert: [body contains "qa1@example.test", 'body contains "x-synthetic-user\\": \\"qa-1"']
"""
    config = loads(text)
    probes = ProbeService(config)
    try:
        result = await probes.probe(config.checks[0], "local")
    finally:
        await probes.aclose()
    assert result.status is Status.ok, result.reason()
    assert (result.user, result.cohort) == ("qa-1", "staff")
    seen = target.received[-1]
    assert seen.headers["x-synthetic-user"] == "qa-1", "the server saw the marker"
    assert json.loads(seen.body) == {
        "email": "qa1@example.test",
        "password": "planted-PASSWORD-31337",
        "plan": "pro",
    }
    assert "planted-PASSWORD-31337" not in result.model_dump_json()
    assert b"planted-PASSWORD-31337" not in (tmp_path / "store.db").read_bytes()


async def test_a_two_factor_login_sends_the_current_totp_code_and_hides_the_secret(
    target: TargetServer, tmp_path: Path
) -> None:
    import time

    from livesite.checks.variables import totp

    secret = "JBSWY3DPEHPK3PXPJBSWY3DP"
    (tmp_path / "qa.totp").write_text(secret)
    text = f"""
zones: [{{name: local, base_url: "{target.url("/").rstrip("/")}"}}]
store: {{url: "sqlite:///{tmp_path / "store.db"}"}}
users:
  cohorts:
    - name: staff
      users: [{{id: qa-1, username: qa1@example.test, password: pw-qa-1-secret, totp_secret_file: qa.totp}}]
checks:
  - name: mfa
    kind: journey
    user: qa-1
    steps:
      - {{name: code, method: POST, url: /echo, json: {{code: "${{user.totp}}"}}}}
"""
    (tmp_path / "c.yaml").write_text(text)
    from livesite.config import load

    config = load(tmp_path / "c.yaml")
    before = time.time()
    probes = ProbeService(config)
    try:
        result = await probes.probe(config.checks[0], "local")
    finally:
        await probes.aclose()
    after = time.time()
    assert result.status is Status.ok and result.user == "qa-1" and result.cohort == "staff"
    sent = json.loads(target.received[-1].body)["code"]
    assert sent in {totp(secret, before), totp(secret, after)}
    assert secret not in result.model_dump_json()


async def test_a_hostile_extracted_value_cannot_split_a_request(target: TargetServer) -> None:
    evil = "a b\r\nX-Evil: 1&admin=true#frag"
    target.respond("/hostile", 200, json.dumps({"evil": evil}), {"Content-Type": "application/json"})
    spec = _journey(
        target,
        """
    steps:
      - {name: get, url: /hostile, extract: {evil: json.evil}}
      - {name: in-url, url: "/echo?q=${steps.get.evil}"}
      - {name: in-header, url: /echo?header=1, headers: {X-Q: "${steps.get.evil}"}}
""",
    )
    result = await run_check(spec, _ctx(target))
    seen = next(r for r in target.received if r.path == "/echo")
    assert seen.query == {"q": evil}, "the value stays one query value"
    assert "x-evil" not in seen.headers
    assert result.status is Status.failed or result.status is Status.error
    assert result.failure is not None and result.failure.step == "in-header"
    assert "line break" in result.failure.message
    assert not any(r.query.get("header") for r in target.received), "nothing was sent"
