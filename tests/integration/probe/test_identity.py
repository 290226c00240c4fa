"""One fake user's credentials or connection never serve another, even with kept-alive connections."""

from __future__ import annotations

import asyncio
import json

from livesite.checks import Identity
from livesite.config import loads
from livesite.probe import ProbeService
from livesite.testing.target import TargetServer


async def test_two_users_cookies_and_connections_never_cross(target: TargetServer) -> None:
    config = loads(
        f"""
checks:
  - name: whoami
    url: {target.url("/echo")}
    reuse_connection: true
    assert: ["status == 200"]
"""
    )
    [spec] = config.checks
    alice = Identity(user="alice", cohort="free", cookies=(("session", "alice-session-1"),))
    bob = Identity(user="bob", cohort="free", cookies=(("session", "bob-session-2"),))
    service = ProbeService(config)
    try:
        # Interleaved and concurrent: the cache of prepared requests and the kept-alive connection
        # are keyed by identity, so neither is handed to the other user.
        for _ in range(4):
            a, b = await asyncio.gather(
                service.probe(spec, "local", alice), service.probe(spec, "local", bob)
            )
            assert (a.user, b.user) == ("alice", "bob")
    finally:
        service.close()
    by_connection: dict[int, set[str]] = {}
    for request in target.received:
        cookie = request.headers.get("cookie", "")
        assert cookie in ("session=alice-session-1", "session=bob-session-2"), cookie
        by_connection.setdefault(request.connection, set()).add(cookie)
    assert all(len(cookies) == 1 for cookies in by_connection.values()), by_connection
    # Connections were really kept alive (so the test could have caught a crossing).
    assert len(target.received) == 8 and len(by_connection) <= 4


async def test_a_users_cookie_values_never_appear_in_their_results(target: TargetServer) -> None:
    config = loads(
        f"""
checks:
  - name: whoami
    url: {target.url("/echo")}
    assert: ["body contains nothing-like-this"]
"""
    )
    alice = Identity(
        user="alice", cookies=(("sid", "alice-secret-cookie"),), headers=(("X-Token", "alice-tok-777"),)
    )
    service = ProbeService(config)
    try:
        result = await service.probe(config.checks[0], "local", alice)
    finally:
        service.close()
    assert json.loads(result.model_dump_json())  # serialisable
    stored = result.model_dump_json()
    assert "alice-secret-cookie" not in stored and "alice-tok-777" not in stored
    assert "****" in stored
