"""The session multi-step kinds share: a fake user's requests against the real demo."""

from __future__ import annotations

import json
import uuid

from livesite.assertions import parse
from livesite.checks import Identity, RunContext
from livesite.checks.session import Session, step_of
from livesite.config.models import Zone
from livesite.demo.state import DemoState
from livesite.results import Status


def _ctx(demo: DemoState, identity: Identity = Identity()) -> RunContext:
    zones = tuple(Zone(name=z, base_url=demo.zone_url(z)) for z in ("zone-a", "zone-b"))
    return RunContext(zone=zones[0], zones=zones, identity=identity)


async def test_a_session_logs_in_and_uses_its_token_in_every_zone(demo: DemoState) -> None:
    email = f"fake-{uuid.uuid4().hex[:8]}@example.test"
    ctx = _ctx(demo, Identity(user="u1", headers=(("X-Livesite-Synthetic", "u1"),)))
    async with Session(ctx) as session:
        body = json.dumps({"email": email, "password": "correct horse"}).encode()
        registered = await session.request("POST", "/api/register", body=body)
        assert registered.status == 201
        login = await session.request("POST", "/api/login", body=body)
        token = json.loads(login.body)["token"]
        for zone in ("zone-a", "zone-b"):
            me = await session.request(
                "GET", "/api/me", zone=zone, headers=[("Authorization", f"Bearer {token}")]
            )
            assert me.status == 200 and me.zone == zone, me.body
            assert me.revision, "the zone's revision header is read"
        # One connection per origin is kept for the session: the second zone-a request reused it.
        assert len(session._connections) == 2
        step = step_of("me", [parse("status == 200"), parse("json.email == 'nobody'")], me)
        assert step.status is Status.failed and step.failure is not None and step.failure.step == "me"
        assert step.revision == me.revision and step.observation is not None


async def test_cookies_the_site_sets_are_sent_back_to_that_host_only() -> None:
    from livesite.testing.target import TargetServer

    async with TargetServer() as target:
        zone = Zone(name="local", base_url=target.url().rstrip("/"))
        async with Session(RunContext(zone=zone, zones=(zone,))) as session:
            await session.request("GET", "/cookie")
            assert session.cookies.get("127.0.0.1", "session") == "s3ss10n-v4lue"
            echoed = await session.request("GET", "/echo")
            assert b"s3ss10n-v4lue" in echoed.body
