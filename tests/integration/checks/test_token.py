"""The token kind against the real demo: a token's life in every zone, without showing the token."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from pathlib import Path

import httpx

from demo_plugin import DemoFactory
from livesite.checks import Credentials, Identity
from livesite.config import load, loads
from livesite.demo import DemoState
from livesite.monitor import plan, run_once
from livesite.probe import ProbeService
from livesite.results import Status, TokenObservation

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "token.yaml"

CONFIG = """
zones:
  - {name: zone-a, base_url: "${LIVESITE_DEMO_ZONE_A_URL}"}
  - {name: zone-b, base_url: "${LIVESITE_DEMO_ZONE_B_URL}"}
checks:
  - name: health
    url: /health
  - name: token-lifecycle
    kind: token
    login:
      method: POST
      url: /api/login
      json: {email: "${user.username}", password: "${user.password}"}
    access_token: json.token
    max_lifetime: 1m
    skew: 500ms
    probe: {url: /api/me}
    refresh: {method: POST, url: /api/refresh, json: {refresh_token: "${steps.login.refresh_token}"}}
    logout: {method: POST, url: /api/logout}
"""


async def register(state: DemoState) -> tuple[str, str]:
    email, password = f"fake-{uuid.uuid4().hex[:8]}@example.test", 'correct "horse" battery'
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{state.zone_url('zone-a')}/api/register", json={"email": email, "password": password}
        )
        assert answer.status_code == 201, answer.text
    return email, password


def tokens_in_store(state: DemoState) -> list[str]:
    with sqlite3.connect(state.db_path) as db:
        return [v for row in db.execute("SELECT token, refresh_token FROM sessions") for v in row]


async def test_a_healthy_demo_expires_refreshes_and_revokes_tokens_in_every_zone_while_other_checks_run(
    fresh_demo: DemoFactory,
) -> None:
    state = await fresh_demo(token_ttl_seconds=2)
    email, password = await register(state)
    config = loads(CONFIG, env={**os.environ, **state.env()})
    probes = ProbeService(config)
    token_check, health = config.check("token-lifecycle"), config.check("health")
    assert token_check is not None and health is not None
    user = Identity(user="u-1", cohort="free-eu", credentials=Credentials(username=email, password=password))
    lifecycle = asyncio.create_task(probes.probe(token_check, "zone-a", user))
    # While it waits for the token to expire, other checks run: the wait is an await, not a block.
    healthy = await probes.probe(health, "zone-b")
    assert healthy.status is Status.ok and not lifecycle.done()
    result = await lifecycle
    probes.close()
    assert result.status is Status.ok, result.reason()
    assert (result.zone, result.user, result.cohort) == ("zone-a", "u-1", "free-eu")
    obs = result.observation
    assert isinstance(obs, TokenObservation)
    assert obs.lifetime_source == "expires_in" and 1.5 <= (obs.lifetime_seconds or 0) <= 2.0
    names = [s.name for s in result.steps]
    for zone in ("zone-a", "zone-b"):
        assert {f"accepted@{zone}", f"revoked@{zone}", f"expired@{zone}"} <= set(names)
    assert {"login", "login-again", "refresh", "logout"} <= set(names)
    # Neither the tokens (those the site still holds) nor the password appear anywhere in the Result.
    shown = result.model_dump_json()
    secrets = tokens_in_store(state)
    assert secrets, "the first token is still in the shop's store (it expired; nobody revoked it)"
    assert not [s for s in [*secrets, password] if s in shown]


async def test_a_demo_that_accepts_expired_tokens_fails_in_every_zone(fresh_demo: DemoFactory) -> None:
    state = await fresh_demo(defects=["token-no-expiry"], token_ttl_seconds=2)
    email, password = await register(state)
    env = {**os.environ, **state.env(), "DEMO_EMAIL": email, "DEMO_PASSWORD": password}
    config = load(EXAMPLE, env=env)
    [result] = await run_once(config, plan(config))
    assert result.status is Status.failed
    assert result.failure is not None and result.failure.step == "expired@zone-a"
    assert "zone-a accepted the token after its expiry plus 1s skew (200)" in result.reason()
    assert "zone-b accepted" in result.reason()
    obs = result.observation
    assert isinstance(obs, TokenObservation) and obs.accepted_after_expiry == ["zone-a", "zone-b"]
    assert obs.accepted_after_logout == [], "logout still revokes: only expiry is broken"
    shown = result.model_dump_json()
    assert not [s for s in [*tokens_in_store(state), password] if s in shown]


async def test_tokens_the_site_answered_with_are_masked_where_a_failure_quotes_them(demo: DemoState) -> None:
    email, password = await register(demo)
    text = (
        CONFIG.replace("    logout:", "    expiry: false\n    logout:")
        .replace('"${steps.login.refresh_token}"}}', '"${steps.login.refresh_token}"}, status: [299]}')
        # A site that takes the token in the query: every probe's URL (kept as the step's target) holds it.
        .replace("probe: {url: /api/me}", 'probe: {url: "/api/me?t=${steps.login.access_token}"}')
    )
    config = loads(text, env={**os.environ, **demo.env()})
    spec = config.check("token-lifecycle")
    assert spec is not None
    user = Identity(user="u-2", credentials=Credentials(username=email, password=password))
    probes = ProbeService(config)
    result = await probes.probe(spec, "zone-a", user)
    probes.close()
    assert result.status is Status.failed and result.failure is not None
    assert result.failure.step == "refresh"
    # The refresh answer is quoted to say what came back; its tokens are masked, the rest is not.
    assert 'refresh before expiry answered 200: {"token":"' in result.reason()
    accepted = next(s for s in result.steps if s.name == "accepted@zone-b")
    assert accepted.status is Status.ok and "/api/me?t=" in accepted.target
    shown = result.model_dump_json()
    assert not [s for s in [*tokens_in_store(demo), password] if s in shown]
