"""Resolvers against real name servers on 127.0.0.1: dnsmasq, one that answers with a TTL, one that never answers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import cast

import dns.message
import dns.rrset
import pytest

from livesite.net.errors import ProbeError
from livesite.net.resolve import NameServerResolver
from livesite.results import FailureKind
from livesite.testing.dns import SilentNameServer
from livesite.testing.servers import Dnsmasq

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Answering(asyncio.DatagramProtocol):
    """Answers every A query with 127.0.0.5 and the given TTL, and counts the queries."""

    def __init__(self, ttl: int) -> None:
        self.ttl = ttl
        self.queries = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queries += 1
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        name = query.question[0].name
        response.answer.append(dns.rrset.from_text(name, self.ttl, "IN", "A", "127.0.0.5"))
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def answering() -> AsyncIterator[tuple[_Answering, tuple[str, int]]]:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(
        lambda: _Answering(ttl=30), local_addr=("127.0.0.1", 0)
    )
    yield server, transport.get_extra_info("sockname")[:2]
    transport.close()


async def test_a_name_server_resolver_answers_from_dnsmasq(dnsmasq: Dnsmasq) -> None:
    host, port = dnsmasq.nameserver.rsplit(":", 1)
    resolver = NameServerResolver([(host, int(port))])
    assert await resolver.lookup("shop.test") == ("127.0.0.1",)
    with pytest.raises(ProbeError) as caught:
        await resolver.lookup("nope.test")
    assert caught.value.kind is FailureKind.dns
    assert caught.value.message == "cannot resolve 'nope.test': no such name"


async def test_a_name_server_answer_is_kept_for_its_ttl(
    answering: tuple[_Answering, tuple[str, int]],
) -> None:
    server, address = answering
    clock = Clock()
    resolver = NameServerResolver([address], clock=clock)
    assert await resolver.lookup("api.shop.test") == ("127.0.0.5",)
    clock.now += 29
    assert await resolver.lookup("api.shop.test") == ("127.0.0.5",)
    assert server.queries == 1
    clock.now += 2
    await resolver.lookup("api.shop.test")
    assert server.queries == 2


async def test_a_ttl_longer_than_max_cache_seconds_is_cut_short(
    answering: tuple[_Answering, tuple[str, int]],
) -> None:
    server, address = answering
    clock = Clock()
    resolver = NameServerResolver([address], clock=clock, max_cache_seconds=5)
    await resolver.lookup("api.shop.test")
    clock.now += 6
    await resolver.lookup("api.shop.test")
    assert server.queries == 2


async def test_lookups_on_a_silent_name_server_share_one_query_and_stop_at_their_timeout() -> None:
    with SilentNameServer() as silent:
        resolver = silent.resolver(timeout_seconds=0.3)
        t0 = time.perf_counter()
        outcomes = await asyncio.gather(
            *(resolver.lookup("shop.test") for _ in range(20)), return_exceptions=True
        )
        assert time.perf_counter() - t0 < 2
        assert resolver.in_flight <= 1
        assert 1 <= silent.queries() <= 3  # one lookup for all twenty (dnspython may resend once)
    messages = {str(o) for o in outcomes}
    assert messages == {f"no answer for 'shop.test' from name server {silent.nameserver} within 0.3s"}


def test_a_process_exits_at_once_although_a_lookup_thread_is_still_blocked() -> None:
    program = """
import asyncio, time
from livesite.net.resolve import SystemResolver
from livesite.net.errors import ProbeError

async def main():
    resolver = SystemResolver(timeout_seconds=0.2, getaddrinfo=lambda host: time.sleep(3600) or [])
    try:
        await resolver.lookup("dead.example")
    except ProbeError as e:
        print(e.message)

asyncio.run(main())
"""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "no answer for 'dead.example' from the system resolver within 0.2s"
    assert done.returncode == 0, done.stderr
    assert time.perf_counter() - t0 < 10  # interpreter start and exit; the thread sleeps an hour
