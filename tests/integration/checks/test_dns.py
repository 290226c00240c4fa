"""The dns check against a real dnsmasq on 127.0.0.1 (records for shop.test; other .test names are NXDOMAIN)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from livesite.checks import DnsCheck, RunContext, run_check
from livesite.config import Zone
from livesite.results import FailureKind, Result, Status
from livesite.testing.dns import SilentNameServer
from livesite.testing.servers import Dnsmasq, free_port
from livesite.testing.target import TargetServer

pytestmark = pytest.mark.integration


def dns(query: str, nameserver: str, *rules: str, **fields: Any) -> DnsCheck:
    return DnsCheck.model_validate(
        {
            "name": "dns",
            "kind": "dns",
            "query": query,
            "nameserver": nameserver,
            "assert": list(rules),
            **fields,
        }
    )


async def probe(spec: DnsCheck) -> Result:
    return await run_check(spec, RunContext(zone=Zone(name="local")))


async def test_an_a_record_answers_with_its_address(dnsmasq: Dnsmasq) -> None:
    result = await probe(
        dns("shop.test", dnsmasq.nameserver, "answers contains 127.0.0.1", "len(answers) == 1")
    )
    assert result.status is Status.ok, result.reason()
    assert result.target == "shop.test A"
    assert result.phases.resolve > 0


async def test_an_answer_that_is_not_expected_fails_with_the_answers_observed(dnsmasq: Dnsmasq) -> None:
    result = await probe(dns("api.shop.test", dnsmasq.nameserver, "answers contains 127.0.0.1"))
    assert result.status is Status.failed
    assert result.assertions[0].observed == '["127.0.0.2"]'


async def test_the_query_works_over_tcp_too(dnsmasq: Dnsmasq) -> None:
    result = await probe(dns("shop.test", dnsmasq.nameserver, "answers contains 127.0.0.1", transport="tcp"))
    assert result.status is Status.ok, result.reason()


async def test_nxdomain_without_assertions_is_a_wrong_answer_never_retried(dnsmasq: Dnsmasq) -> None:
    # As blackbox's dns prober: the name server answered, and the answer is wrong (not a network error).
    result = await probe(dns("missing.test", dnsmasq.nameserver))
    assert result.status is Status.failed
    assert result.failure is not None and result.failure.kind is FailureKind.assertion
    assert not result.failure.kind.is_network
    assert result.reason() == 'assertion: expected rcode in ["NOERROR"], observed NXDOMAIN'


async def test_the_answer_code_is_still_checked_when_other_assertions_hold(dnsmasq: Dnsmasq) -> None:
    result = await probe(dns("missing.test", dnsmasq.nameserver, "len(answers) == 0"))
    assert result.status is Status.failed
    assert [a.expr for a in result.assertions if not a.passed] == ['rcode in ["NOERROR"]']


async def test_nxdomain_fails_an_answers_assertion_with_nothing_observed(dnsmasq: Dnsmasq) -> None:
    result = await probe(dns("missing.test", dnsmasq.nameserver, "answers contains 127.0.0.1"))
    assert result.status is Status.failed
    assert result.assertions[0].observed == "[]"


async def test_an_expected_nxdomain_can_be_asserted_on_the_rcode(dnsmasq: Dnsmasq) -> None:
    result = await probe(dns("missing.test", dnsmasq.nameserver, "rcode == NXDOMAIN", "len(answers) == 0"))
    assert result.status is Status.ok, result.reason()


async def test_a_refused_query_fails_naming_the_rcode(dnsmasq: Dnsmasq) -> None:
    result = await probe(dns("example.com", dnsmasq.nameserver))
    assert result.status is Status.failed
    assert "observed REFUSED" in result.reason()


async def test_a_name_server_that_never_answers_is_a_timeout() -> None:
    with SilentNameServer() as silent:
        result = await probe(dns("shop.test", f"127.0.0.1:{silent.port}", timeout="300ms"))
    assert result.status is Status.error
    assert result.failure is not None and result.failure.kind is FailureKind.timeout
    assert result.failure.message == "no answer within 0.3s (stopped during query)"


async def test_a_udp_port_nobody_listens_on_is_refused_at_once() -> None:
    # The query goes out on a connected UDP socket (as blackbox's does), so the ICMP "port
    # unreachable" comes back as a refusal instead of a wait for the deadline.
    port = free_port(socket.SOCK_DGRAM)
    result = await probe(dns("shop.test", f"127.0.0.1:{port}", timeout="30s"))
    assert result.failure is not None and result.failure.kind is FailureKind.dns
    assert result.failure.message == f"asking 127.0.0.1:{port} failed: Connection refused"


async def test_a_tcp_name_server_that_hangs_is_a_timeout(target: TargetServer) -> None:
    result = await probe(dns("shop.test", target.hang_address, transport="tcp", timeout="300ms"))
    assert result.failure is not None and result.failure.kind is FailureKind.timeout


async def test_a_refused_tcp_connection_to_the_name_server_is_a_dns_error() -> None:
    result = await probe(dns("shop.test", f"127.0.0.1:{free_port()}", transport="tcp"))
    assert result.failure is not None and result.failure.kind is FailureKind.dns
    assert "Connect call failed" in result.failure.message
