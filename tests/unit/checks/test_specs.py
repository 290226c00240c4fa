"""What a kind's spec refuses at load, so the run never meets it."""

from __future__ import annotations

import pytest

from livesite.checks.address import host_port
from livesite.config import Zone, loads
from livesite.errors import ConfigError


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("{name: d, kind: dns, query: 'a..b'}", "is not a DNS name"),
        ("{name: d, kind: dns, query: a.example, valid_rcodes: [NOPE]}", "is not a DNS answer code"),
    ],
)
def test_a_dns_check_that_could_only_crash_at_run_time_is_a_config_error(check: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        loads(f"checks:\n  - {check}\n", file="c.yaml")
    assert "c.yaml:2" in str(e.value) and message in str(e.value)


def test_answer_codes_are_read_in_any_case() -> None:
    [check] = loads("checks: [{name: d, kind: dns, query: a.example, valid_rcodes: [nxdomain]}]").checks
    assert [r.expr for r in check.rules()] == ['rcode in ["NXDOMAIN"]']


@pytest.mark.parametrize(
    ("address", "expected"),
    [("[::1]:8443", ("::1", 8443)), ("127.0.0.1:25", ("127.0.0.1", 25)), ("shop.test", ("shop.test", 443))],
)
def test_a_run_reads_an_address_as_the_config_did(address: str, expected: tuple[str, int]) -> None:
    assert host_port(address, Zone(name="z"), 443) == expected
