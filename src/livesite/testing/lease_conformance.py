"""The conformance suite every :class:`~livesite.store.leases.Leases` must pass.

A lease store of one's own calls ``await check_leases(leases)`` in its tests (as
``store_conformance`` does for results). The store must hold no leases; time is given, never read.
"""

from __future__ import annotations

import asyncio

from livesite.store.leases import Leases

T0 = 1_000_000.0


async def check_leases(leases: Leases) -> None:
    """Raise AssertionError naming the first behaviour that breaks."""
    await _one_holder_per_resource(leases)
    await _expired_leases_are_taken_again(leases)
    await _renew_and_release_need_the_current_token(leases)
    await _listing(leases)
    await _concurrent_acquires_never_share(leases)


async def _one_holder_per_resource(leases: Leases) -> None:
    first = await leases.acquire("user", ["a", "b"], "p1", ttl_seconds=60, now=T0)
    assert first is not None and first.resource == "a", "the first free candidate is taken"
    second = await leases.acquire("user", ["a", "b"], "p2", ttl_seconds=60, now=T0 + 1)
    assert second is not None and second.resource == "b", "a held candidate is skipped"
    none = await leases.acquire("user", ["a", "b"], "p3", ttl_seconds=60, now=T0 + 2)
    assert none is None, "all candidates held: nothing is taken"
    other_kind = await leases.acquire("fault", ["a"], "p3", ttl_seconds=60, now=T0 + 2)
    assert other_kind is not None, "kinds do not share resources"
    assert await leases.acquire("user", [], "p3", ttl_seconds=60, now=T0) is None
    assert await leases.release(first) and await leases.release(second) and await leases.release(other_kind)
    again = await leases.acquire("user", ["a"], "p3", ttl_seconds=60, now=T0 + 3)
    assert again is not None and again.holder == "p3", "a released resource is free at once"
    assert await leases.release(again)


async def _expired_leases_are_taken_again(leases: Leases) -> None:
    crashed = await leases.acquire("user", ["x"], "crashed", ttl_seconds=10, now=T0)
    assert crashed is not None
    assert await leases.acquire("user", ["x"], "p2", ttl_seconds=10, now=T0 + 9.9) is None
    taken = await leases.acquire("user", ["x"], "p2", ttl_seconds=10, now=T0 + 10)
    assert taken is not None and taken.holder == "p2", "a lease past its deadline is free"
    assert taken.token != crashed.token
    assert not await leases.release(crashed), "the crashed holder's late release does nothing"
    held = await leases.active("user", now=T0 + 11)
    assert [(lease.resource, lease.holder) for lease in held] == [("x", "p2")]
    assert await leases.release(taken)


async def _renew_and_release_need_the_current_token(leases: Leases) -> None:
    lease = await leases.acquire("user", ["r"], "p1", ttl_seconds=10, now=T0, payload={"fault": "latency"})
    assert lease is not None
    renewed = await leases.renew(lease, ttl_seconds=30, now=T0 + 5)
    assert renewed is not None and renewed.expires_at == T0 + 35
    assert await leases.acquire("user", ["r"], "p2", ttl_seconds=10, now=T0 + 20) is None, "renewed: held"
    assert await leases.renew(lease, ttl_seconds=30, now=T0 + 40) is None, (
        "an expired lease cannot be renewed"
    )
    assert await leases.release(lease)
    assert not await leases.release(lease), "released twice: the second does nothing"


async def _listing(leases: Leases) -> None:
    one = await leases.acquire(
        "fault", ["f1"], "chaos", ttl_seconds=10, now=T0, payload={"kind": "latency", "ms": 5}
    )
    two = await leases.acquire("user", ["u1"], "p1", ttl_seconds=100, now=T0)
    assert one is not None and two is not None
    assert [lease.resource for lease in await leases.active(now=T0 + 1)] == ["f1", "u1"]
    assert [lease.resource for lease in await leases.active("user", now=T0 + 20)] == ["u1"]
    expired = await leases.active("fault", now=T0 + 20, expired=True)
    assert [(lease.resource, lease.payload) for lease in expired] == [("f1", {"kind": "latency", "ms": 5})], (
        "an expired lease never released is listed with its payload (what a recovery must undo)"
    )
    assert await leases.release(one) and await leases.release(two)
    assert await leases.active(now=T0, expired=True) == []


async def _concurrent_acquires_never_share(leases: Leases) -> None:
    names = [f"c{i}" for i in range(5)]
    got = await asyncio.gather(
        *(leases.acquire("user", names, f"h{i}", ttl_seconds=60, now=T0) for i in range(8))
    )
    taken = [lease.resource for lease in got if lease is not None]
    assert sorted(taken) == names, f"5 resources, 8 takers: each resource once, got {taken}"
    for lease in got:
        if lease is not None:
            await leases.release(lease)
