"""The tls check against real TLS servers: nginx with a 30-day certificate, and in-process servers for odd certificates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from livesite.checks import RunContext, TlsCheck, run_check
from livesite.config import Zone
from livesite.results import FailureKind, Result, Status
from livesite.testing.servers import Nginx, Pki, free_port, make_pki
from livesite.testing.target import TargetServer

pytestmark = pytest.mark.integration


def tls(address: str, *rules: str, **fields: Any) -> TlsCheck:
    return TlsCheck.model_validate(
        {"name": "cert", "kind": "tls", "address": address, "assert": list(rules), **fields}
    )


async def probe(spec: TlsCheck, zone: Zone | None = None) -> Result:
    return await run_check(spec, RunContext(zone=zone or Zone(name="local")))


async def test_a_trusted_certificate_reports_about_thirty_days_left(tls_nginx: Nginx, pki: Pki) -> None:
    result = await probe(
        tls(tls_nginx.https_address, "cert.days_left > 29", "cert.days_left <= 30", ca_file=pki.ca_cert)
    )
    assert result.status is Status.ok, result.reason()
    assert result.observation.tls.earliest_expiry == pki.not_after
    assert result.target == tls_nginx.https_address


async def test_days_left_can_be_written_in_hours_or_weeks(tls_nginx: Nginx, pki: Pki) -> None:
    result = await probe(
        tls(tls_nginx.https_address, "cert.days_left > 700h", "cert.days_left < 5w", ca_file=pki.ca_cert)
    )
    assert result.status is Status.ok, result.reason()


async def test_a_certificate_expiring_too_soon_fails_with_the_days_observed(
    tls_nginx: Nginx, pki: Pki
) -> None:
    result = await probe(tls(tls_nginx.https_address, "cert.days_left > 45", ca_file=pki.ca_cert))
    assert result.status is Status.failed
    assert result.failure is not None and result.failure.kind is FailureKind.assertion
    observed = result.assertions[0].observed
    assert observed is not None and observed.endswith("d") and 29 < float(observed[:-1]) <= 30


async def test_a_days_left_budget_degrades_instead_of_failing(tls_nginx: Nginx, pki: Pki) -> None:
    result = await probe(tls(tls_nginx.https_address, ca_file=pki.ca_cert, budget=["cert.days_left > 60"]))
    assert result.status is Status.degraded


async def test_the_handshake_is_timed_in_the_tls_phase(tls_nginx: Nginx, pki: Pki) -> None:
    result = await probe(tls(tls_nginx.https_address, "latency.tls < 5s", ca_file=pki.ca_cert))
    assert result.status is Status.ok, result.reason()
    assert result.phases.connect > 0 and result.phases.tls > 0


async def test_an_untrusted_certificate_is_a_tls_error_saying_why(tls_nginx: Nginx) -> None:
    result = await probe(tls(tls_nginx.https_address))
    assert result.status is Status.error
    assert result.failure is not None and result.failure.kind is FailureKind.tls
    assert result.failure.message == (
        f"certificate of {tls_nginx.https_address} not trusted: unable to get local issuer certificate"
    )


async def test_verify_false_still_reads_the_expiry_of_an_untrusted_certificate(
    tls_nginx: Nginx, pki: Pki
) -> None:
    result = await probe(tls(tls_nginx.https_address, "cert.days_left > 29", verify=False))
    assert result.status is Status.ok, result.reason()
    assert result.observation.tls.earliest_expiry == pki.not_after


async def test_a_certificate_for_another_name_is_not_trusted(tls_nginx: Nginx, pki: Pki) -> None:
    result = await probe(tls(tls_nginx.https_address, ca_file=pki.ca_cert, server_name="bank.example"))
    assert result.failure is not None and result.failure.kind is FailureKind.tls
    assert "bank.example" in result.failure.message


async def test_the_server_name_is_checked_against_the_certificate(tls_nginx: Nginx, pki: Pki) -> None:
    result = await probe(tls(tls_nginx.https_address, ca_file=pki.ca_cert, server_name="shop.test"))
    assert result.status is Status.ok, result.reason()


async def test_an_expired_certificate_is_a_tls_error(tmp_path: Path) -> None:
    expired = make_pki(tmp_path, days=-3)
    async with TargetServer(ssl_context=expired.server_context()) as server:
        result = await probe(tls(server.address, ca_file=expired.ca_cert))
        assert result.failure is not None and result.failure.kind is FailureKind.tls
        when = expired.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert result.failure.message == f"certificate of {server.address} has expired (notAfter {when})"
        unverified = await probe(tls(server.address, "cert.days_left > 0", verify=False))
        assert unverified.status is Status.failed
        observed = unverified.assertions[0].observed
        assert observed is not None and observed.startswith("-3.0")


async def test_a_plain_tcp_server_is_a_tls_handshake_error(nginx: Nginx) -> None:
    result = await probe(tls(nginx.url().removeprefix("http://").rstrip("/")))
    assert result.failure is not None and result.failure.kind is FailureKind.tls
    assert "TLS handshake with" in result.failure.message


async def test_a_server_that_never_answers_the_handshake_times_out_in_tls(target: TargetServer) -> None:
    result = await probe(tls(target.hang_address, timeout="200ms"))
    assert result.failure is not None and result.failure.kind is FailureKind.timeout
    assert result.failure.message == "no answer within 0.2s (stopped during tls)"


async def test_a_refused_connection_is_a_connect_error() -> None:
    result = await probe(tls(f"127.0.0.1:{free_port()}"))
    assert result.failure is not None and result.failure.kind is FailureKind.connect


async def test_an_unresolvable_host_is_a_dns_error() -> None:
    result = await probe(tls("no-such-host.invalid:443"))
    assert result.failure is not None and result.failure.kind is FailureKind.dns


async def test_the_address_defaults_to_the_zone_base_url(tls_nginx: Nginx, pki: Pki) -> None:
    zone = Zone(
        name="edge", base_url=tls_nginx.https_url("/", host="shop.test"), resolve={"shop.test": "127.0.0.1"}
    )
    result = await probe(
        TlsCheck.model_validate({"name": "cert", "kind": "tls", "ca_file": pki.ca_cert}), zone
    )
    assert result.status is Status.ok, result.reason()
    assert result.target == f"shop.test:{tls_nginx.https_port}"
