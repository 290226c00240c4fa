"""The resolver's rules (literals, single flight, timeouts, the cache, its bounds) on a stand-in for getaddrinfo.

getaddrinfo is replaced here by a function that blocks until the test lets it go: a real resolver that
hangs on cue cannot run in a unit test (tests/integration/hostile/test_hostile_dns.py uses real ones).
The threads are real.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence

import pytest

from livesite.net.errors import ProbeError
from livesite.net.resolve import (
    NameServerResolver,
    SystemResolver,
    answer_without_lookup,
    resolve,
)
from livesite.results import FailureKind


class Lookups:
    """A getaddrinfo whose dead names block until released; it records every name asked."""

    def __init__(self, dead: Sequence[str] = ()) -> None:
        self.dead = set(dead)
        self.asked: list[str] = []
        self.release = threading.Event()

    def __call__(self, host: str) -> Sequence[str]:
        self.asked.append(host)
        if host in self.dead:
            self.release.wait(30)
            raise OSError(-3, "Temporary failure in name resolution")
        if host.startswith("nx."):
            raise OSError(-2, "Name or service not known")
        return ["10.0.0.7", "10.0.0.7", "10.0.0.8"]


@pytest.fixture
def lookups() -> Iterator[Lookups]:
    fake = Lookups(dead=[f"dead-{i}.example" for i in range(8)])
    yield fake
    fake.release.set()  # let the blocked threads go


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def failure_of(resolver: SystemResolver | NameServerResolver, host: str) -> ProbeError:
    with pytest.raises(ProbeError) as caught:
        await resolver.lookup(host)
    assert caught.value.kind is FailureKind.dns
    return caught.value


async def test_an_answer_lists_each_address_once_in_the_order_given(lookups: Lookups) -> None:
    assert await SystemResolver(getaddrinfo=lookups).lookup("shop.example") == ("10.0.0.7", "10.0.0.8")


async def test_literals_and_localhost_are_answered_without_a_thread(lookups: Lookups) -> None:
    resolver = SystemResolver(getaddrinfo=lookups)
    assert await resolver.lookup("127.0.0.1") == ("127.0.0.1",)
    assert await resolver.lookup("::1") == ("::1",)
    assert await resolver.lookup("localhost") == ("127.0.0.1",)
    assert await resolver.lookup("api.LocalHost.") == ("127.0.0.1",)
    assert lookups.asked == []
    assert resolver.threads.threads == 0


async def test_an_invalid_name_fails_at_once_without_a_lookup(lookups: Lookups) -> None:
    error = await failure_of(SystemResolver(getaddrinfo=lookups), "no-such-host.invalid")
    assert "no-such-host.invalid" in error.message
    assert lookups.asked == []


async def test_a_name_that_does_not_exist_is_a_dns_failure_naming_it(lookups: Lookups) -> None:
    error = await failure_of(SystemResolver(getaddrinfo=lookups), "nx.example")
    assert error.message == "cannot resolve 'nx.example': Name or service not known"


async def test_many_checks_on_one_dead_name_share_one_lookup_and_all_stop_at_their_timeout(
    lookups: Lookups,
) -> None:
    resolver = SystemResolver(getaddrinfo=lookups, timeout_seconds=0.2)
    errors = await asyncio.gather(*(failure_of(resolver, "dead-0.example") for _ in range(20)))
    assert {e.message for e in errors} == {
        "no answer for 'dead-0.example' from the system resolver within 0.2s"
    }
    assert lookups.asked == ["dead-0.example"]
    assert resolver.threads.threads == 1
    # The next check joins the lookup still under way instead of starting another.
    await failure_of(resolver, "dead-0.example")
    assert lookups.asked == ["dead-0.example"]


async def test_a_good_name_is_answered_while_dead_names_hold_threads(lookups: Lookups) -> None:
    resolver = SystemResolver(getaddrinfo=lookups, timeout_seconds=5, max_threads=8)
    dead = [asyncio.create_task(resolver.lookup(f"dead-{i}.example")) for i in range(6)]
    async with asyncio.timeout(2):
        assert await resolver.lookup("shop.example") == ("10.0.0.7", "10.0.0.8")
    assert not any(task.done() for task in dead)
    lookups.release.set()
    for task in dead:
        with pytest.raises(ProbeError, match="Temporary failure"):
            await task


async def test_names_asked_one_after_another_each_get_a_thread_of_their_own() -> None:
    # A pool loses jobs, if it can, when a thread goes idle just as the next job comes: try many times.
    for _ in range(50):
        lookups = Lookups(dead=[f"dead-{i}.example" for i in range(7)])
        resolver = SystemResolver(getaddrinfo=lookups, timeout_seconds=2, max_threads=8)
        dead = []
        for i in range(7):
            dead.append(asyncio.ensure_future(resolver.lookup(f"dead-{i}.example")))
            await asyncio.sleep(0)  # a turn of the loop: this one asks before the next
        try:
            async with asyncio.timeout(1):
                assert await resolver.lookup("shop.example") == ("10.0.0.7", "10.0.0.8")
        finally:
            lookups.release.set()
        await asyncio.gather(*dead, return_exceptions=True)


async def test_when_every_thread_is_stuck_a_new_name_says_the_resolver_is_busy(lookups: Lookups) -> None:
    resolver = SystemResolver(getaddrinfo=lookups, timeout_seconds=0.3, max_threads=2)
    stuck = [asyncio.create_task(resolver.lookup(f"dead-{i}.example")) for i in range(2)]
    await asyncio.sleep(0)  # a turn of the loop: both ask first, and the queue is first come, first served
    error = await failure_of(resolver, "shop.example")
    assert "the system resolver is busy (2 lookups are stuck" in error.message
    await asyncio.gather(*stuck, return_exceptions=True)


async def test_more_names_in_flight_than_allowed_fail_at_once(lookups: Lookups) -> None:
    resolver = SystemResolver(getaddrinfo=lookups, timeout_seconds=5, max_pending=3)
    stuck = [asyncio.create_task(resolver.lookup(f"dead-{i}.example")) for i in range(3)]
    await asyncio.sleep(0)  # let them register
    async with asyncio.timeout(1):
        error = await failure_of(resolver, "dead-3.example")
    assert "3 names are being looked up already" in error.message
    lookups.release.set()
    await asyncio.gather(*stuck, return_exceptions=True)


async def test_an_answer_is_reused_for_cache_seconds_and_then_asked_again(lookups: Lookups) -> None:
    clock = Clock()
    resolver = SystemResolver(getaddrinfo=lookups, cache_seconds=10, clock=clock)
    await resolver.lookup("shop.example")
    clock.now += 9.9
    await resolver.lookup("SHOP.example.")
    assert lookups.asked == ["shop.example"]
    clock.now += 0.2
    await resolver.lookup("shop.example")
    assert lookups.asked == ["shop.example", "shop.example"]


async def test_failures_are_not_cached(lookups: Lookups) -> None:
    resolver = SystemResolver(getaddrinfo=lookups)
    await failure_of(resolver, "nx.example")
    await failure_of(resolver, "nx.example")
    assert lookups.asked == ["nx.example", "nx.example"]


async def test_the_cache_keeps_at_most_cache_size_names(lookups: Lookups) -> None:
    resolver = SystemResolver(getaddrinfo=lookups, cache_size=2)
    for name in ("a.example", "b.example", "c.example", "a.example"):
        await resolver.lookup(name)
    assert lookups.asked == ["a.example", "b.example", "c.example", "a.example"]


async def test_a_zone_override_wins_over_any_lookup(lookups: Lookups) -> None:
    resolver = SystemResolver(getaddrinfo=lookups)
    assert await resolve("shop.test", {"shop.test": "127.0.0.9"}, resolver) == "127.0.0.9"
    assert await resolve("shop.example", {}, resolver) == "10.0.0.7"
    assert lookups.asked == ["shop.example"]


async def test_the_resolver_handed_in_answers_after_the_zone_overrides(lookups: Lookups) -> None:
    handed = SystemResolver(getaddrinfo=lookups)
    assert await resolve("shop.example", {}, handed) == "10.0.0.7"
    assert await resolve("shop.test", {"shop.test": "127.0.0.9"}, handed) == "127.0.0.9"  # overrides first
    assert lookups.asked == ["shop.example"]


async def test_names_that_need_no_lookup_need_no_resolver() -> None:
    assert await resolve("10.1.2.3") == "10.1.2.3"
    assert await resolve("localhost") == "127.0.0.1"
    assert await resolve("shop.test", {"shop.test": "127.0.0.9"}) == "127.0.0.9"


async def test_closing_a_resolver_ends_its_idle_threads_at_once(lookups: Lookups) -> None:
    resolver = SystemResolver(getaddrinfo=lookups, max_threads=4)
    await asyncio.gather(*(resolver.lookup(f"host-{i}.example") for i in range(4)))
    assert resolver.threads.threads >= 1  # idle, waiting a minute for more work
    resolver.close()
    deadline = time.monotonic() + 10
    while resolver.threads.threads and time.monotonic() < deadline:
        await asyncio.sleep(0.01)  # polled with a deadline: the threads end on their own schedule
    assert resolver.threads.threads == 0
    assert await resolver.lookup("after.example") == ("10.0.0.7", "10.0.0.8")  # still answers


async def test_a_lookup_left_in_flight_by_a_stopped_loop_does_not_block_the_next_loop(
    lookups: Lookups,
) -> None:
    resolver = SystemResolver(getaddrinfo=lookups, timeout_seconds=0.2)

    def in_another_loop() -> None:
        async def start() -> None:
            asyncio.get_running_loop().create_task(resolver.lookup("dead-0.example"))
            await asyncio.sleep(0)

        loop = asyncio.new_event_loop()
        loop.run_until_complete(start())
        loop.close()  # the lookup's task never ends there

    await asyncio.to_thread(in_another_loop)
    assert resolver.in_flight == 1  # the stopped loop's lookup, which will never land
    error = await failure_of(resolver, "dead-0.example")  # a lookup of its own, not a RuntimeError
    assert error.message == "no answer for 'dead-0.example' from the system resolver within 0.2s"


def test_names_that_need_no_lookup_are_recognised() -> None:
    assert answer_without_lookup("10.1.2.3") == ("10.1.2.3",)
    assert answer_without_lookup("[2001:db8::1]") == ("2001:db8::1",)
    assert answer_without_lookup("localhost") == ("127.0.0.1",)
    assert answer_without_lookup("shop.example") is None
    assert answer_without_lookup("notlocalhost") is None


def test_a_name_server_resolver_needs_a_name_server() -> None:
    with pytest.raises(ValueError, match="at least one"):
        NameServerResolver([])
