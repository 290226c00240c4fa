"""livesite against blackbox_exporter on the same targets: the same verdicts and the same metric values.

Each test sends one real target (nginx, the in-process target server, dnsmasq, TLS servers with
certificates from ``livesite.testing.pki``) through blackbox_exporter's ``/probe`` with a module and
through ``run_check`` with the equivalent check, both at once, then compares what each exports: for
livesite, the monitor's exposition (``livesite.monitor.metrics.render``) of that one Result. Values
are compared exactly; time phases are compared as "spent time or not" (never how much: no timing
thresholds in tests).

Where livesite *intentionally* differs, the test says why and pins both sides in ``differ``; a
difference that is a gap still to close is an ``xfail(strict=True)`` naming the change it needs.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from livesite.checks import KINDS, RunContext, run_check
from livesite.config import Zone
from livesite.monitor.metrics import Snapshot, render
from livesite.probe import LAG_BUCKETS
from livesite.results import Result, Status
from livesite.testing.dns import SilentNameServer
from livesite.testing.pki import Authority
from livesite.testing.servers import BlackboxExporter, Dnsmasq, Nginx, free_port, parse_exposition
from livesite.testing.target import TargetServer

pytestmark = pytest.mark.integration

_OURS_ONLY_LABELS = frozenset({"check", "zone", "cohort", "revision"})
_TLS = (
    "probe_ssl_earliest_cert_expiry",
    "probe_ssl_last_chain_expiry_timestamp_seconds",
    "probe_tls_version_info",
)
COMPARED = {
    "http": (
        "probe_success",
        "probe_http_status_code",
        "probe_http_content_length",
        "probe_http_uncompressed_body_length",
        "probe_http_redirects",
        "probe_http_ssl",
        "probe_http_version",
        "probe_failed_due_to_regex",
        "probe_ip_protocol",
        "probe_http_duration_seconds",
        *_TLS,
    ),
    "tcp": ("probe_success", "probe_ip_protocol", "probe_failed_due_to_regex", *_TLS),
    "dns": (
        "probe_success",
        "probe_dns_answer_rrs",
        "probe_dns_authority_rrs",
        "probe_dns_additional_rrs",
        "probe_dns_query_succeeded",
        "probe_dns_duration_seconds",
    ),
}
_PHASED = frozenset({"probe_http_duration_seconds", "probe_dns_duration_seconds"})
# Present in both whatever happened (they are timings, so only their presence is compared).
_PRESENT = ("probe_duration_seconds",)

Differences = Mapping[str, tuple[float | None, float | None]]  # series → (blackbox's, ours); None: absent


def _comparable(samples: Mapping[str, float], names: Sequence[str]) -> dict[str, float]:
    """The compared series; a phase becomes ``name{phase="x"} > 0`` (1 or 0): time spent or not."""
    out: dict[str, float] = {}
    for key, value in samples.items():
        name = key.partition("{")[0]
        if name in _PHASED:
            out[f"{key} > 0"] = float(value > 0)
        elif name in names:
            out[key] = value
    return out


def _exposition(result: Result) -> dict[str, float]:
    snap = Snapshot(
        results=[result],
        states=[],
        totals=[],
        lag_counts=[0] * (len(LAG_BUCKETS) + 1),
        lag_total=0.0,
        lag_n=0,
        in_flight=0,
        skipped=0,
    )
    return parse_exposition(render(snap), drop_labels=_OURS_ONLY_LABELS)


async def compare(
    blackbox: BlackboxExporter,
    module: Mapping[str, Any],
    target: str,
    check: Mapping[str, Any],
    *,
    differ: Differences | None = None,
    zone: Zone | None = None,
) -> Result:
    """Probe ``target`` with blackbox's ``module`` and with livesite's ``check`` at once; compare.

    ``differ`` pins an intended difference: blackbox's value and ours (None: not exported).
    """
    spec = KINDS[check["kind"]].spec.model_validate({"name": "differential", **check})

    async def ours() -> Result:
        return await run_check(spec, RunContext(zone=zone or Zone(name="local")))

    theirs_all, result = await asyncio.gather(blackbox.probe(module, target), ours())
    ours_all = _exposition(result)
    for name in _PRESENT:
        assert name in theirs_all and name in ours_all, name
    names = COMPARED[check["kind"]]
    theirs, mine = _comparable(theirs_all, names), _comparable(ours_all, names)
    for key, (want_theirs, want_mine) in (differ or {}).items():
        assert (theirs.pop(key, None), mine.pop(key, None)) == (want_theirs, want_mine), (
            f"{key}: (blackbox, livesite) is no longer the difference this test documents"
        )
    unequal = {
        key: (theirs.get(key), mine.get(key))
        for key in sorted(theirs.keys() | mine.keys())
        if theirs.get(key) != mine.get(key)
    }
    assert not unequal, f"(blackbox, livesite) differ: {unequal}; livesite said {result.reason()}"
    return result


def http_module(timeout: str = "2s", **http: Any) -> dict[str, Any]:
    return {"prober": "http", "timeout": timeout, "http": http}


def http_check(url: str, *rules: str, timeout: str = "2s", **fields: Any) -> dict[str, Any]:
    return {"kind": "http", "url": url, "timeout": timeout, "assert": list(rules), **fields}


# ---------------------------------------------------------------------------------------------- http


async def test_a_2xx_answer_passes_both_with_the_same_metrics(
    blackbox: BlackboxExporter, nginx: Nginx
) -> None:
    result = await compare(blackbox, http_module(), nginx.url("/"), http_check(nginx.url("/")))
    assert result.status is Status.ok


@pytest.mark.parametrize("status", [404, 500])
async def test_a_non_2xx_answer_fails_both_when_nothing_names_the_status(
    blackbox: BlackboxExporter, target: TargetServer, status: int
) -> None:
    url = target.url(f"/status/{status}?body=not+here")
    result = await compare(blackbox, http_module(), url, http_check(url))
    assert result.status is Status.failed
    assert result.reason() == f"assertion: expected status in 200..299, observed {status}"


async def test_valid_status_overrides_the_2xx_default_in_both(
    blackbox: BlackboxExporter, target: TargetServer
) -> None:
    url = target.url("/status/404")
    result = await compare(
        blackbox, http_module(valid_status_codes=[404]), url, http_check(url, valid_status=[404])
    )
    assert result.status is Status.ok


async def test_redirects_are_followed_and_counted_alike(
    blackbox: BlackboxExporter, target: TargetServer
) -> None:
    url = target.url("/redirect/3")
    result = await compare(blackbox, http_module(), url, http_check(url))
    assert result.status is Status.ok


async def test_ten_redirects_pass_and_eleven_fail_in_both(
    blackbox: BlackboxExporter, target: TargetServer
) -> None:
    ten, eleven = target.url("/redirect/10"), target.url("/redirect/11")
    assert (await compare(blackbox, http_module(), ten, http_check(ten))).status is Status.ok
    result = await compare(blackbox, http_module(), eleven, http_check(eleven))
    assert result.status is Status.failed
    assert result.reason() == "http: more than 10 redirects"


async def test_a_redirect_loop_fails_both_and_livesite_stops_at_the_first_repeat(
    blackbox: BlackboxExporter, target: TargetServer
) -> None:
    url = target.url("/loop/a")
    result = await compare(
        blackbox,
        http_module(),
        url,
        http_check(url),
        # Intended: Go's client knows no loops and gives up after 10 redirects (counting 11);
        # livesite stops when a URL comes back, and names the loop.
        differ={"probe_http_redirects": (11, 2)},
    )
    assert result.status is Status.failed
    assert result.reason().startswith("http: redirect loop: ")


async def test_a_redirect_to_a_closed_port_counts_the_redirect_and_status_0_in_both(
    blackbox: BlackboxExporter, target: TargetServer
) -> None:
    target.respond("/away", 302, headers={"Location": f"http://127.0.0.1:{free_port()}/gone"})
    url = target.url("/away")
    result = await compare(
        blackbox,
        http_module(),
        url,
        http_check(url),
        # Intended: livesite sums every hop's phases, the redirect's transfer included; blackbox
        # times a redirect's transfer only for the last hop (its trace ends when the body is read).
        differ={'probe_http_duration_seconds{phase="transfer"} > 0': (0, 1)},
    )
    assert result.status is Status.error


async def test_no_answer_within_the_timeout_exports_status_0_and_length_0_in_both(
    blackbox: BlackboxExporter, target: TargetServer
) -> None:
    url = f"http://{target.hang_address}/"
    result = await compare(
        blackbox,
        http_module(timeout="500ms"),
        url,
        http_check(url, timeout="500ms"),
        # Intended: the time spent waiting for an answer that never came is processing time to
        # livesite (the failure says "stopped during processing"); blackbox counts processing only
        # once a first byte arrived.
        differ={'probe_http_duration_seconds{phase="processing"} > 0': (0, 1)},
    )
    assert result.status is Status.error
    assert result.reason() == "timeout: no answer within 0.5s (stopped during processing)"


async def test_a_refused_connection_exports_status_0_in_both(blackbox: BlackboxExporter) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    result = await compare(blackbox, http_module(), url, http_check(url))
    assert result.status is Status.error


async def test_a_chunked_body_has_no_content_length_in_both(
    blackbox: BlackboxExporter, target: TargetServer
) -> None:
    url = target.url("/chunked?chunks=5")
    await compare(blackbox, http_module(), url, http_check(url))


async def test_an_http_1_0_answer_is_version_1_0_in_both(blackbox: BlackboxExporter) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        await compare(blackbox, http_module(), url, http_check(url))


async def test_a_body_that_must_match_and_does_passes_both(blackbox: BlackboxExporter, nginx: Nginx) -> None:
    url = nginx.url("/")
    await compare(
        blackbox,
        http_module(fail_if_body_not_matches_regexp=["hello from"]),
        url,
        http_check(url, 'body matches "hello from"'),
    )


async def test_a_body_that_must_match_and_does_not_fails_both_due_to_regex(
    blackbox: BlackboxExporter, nginx: Nginx
) -> None:
    url = nginx.url("/")
    result = await compare(
        blackbox,
        http_module(fail_if_body_not_matches_regexp=["^goodbye"]),
        url,
        http_check(url, 'body matches "^goodbye"'),
    )
    assert result.status is Status.failed


async def test_a_body_that_must_not_match_and_does_fails_both_due_to_regex(
    blackbox: BlackboxExporter, nginx: Nginx
) -> None:
    url = nginx.url("/")
    result = await compare(
        blackbox,
        http_module(fail_if_body_matches_regexp=["nginx"]),
        url,
        http_check(url, 'body !matches "nginx"'),
    )
    assert result.status is Status.failed


async def test_a_body_rule_on_a_404_is_not_a_regex_failure_in_either(
    blackbox: BlackboxExporter, target: TargetServer
) -> None:
    # blackbox reads no regex once the status is wrong; livesite evaluates every rule but, like
    # blackbox, blames the status, not the regex, in probe_failed_due_to_regex.
    url = target.url("/status/404?body=gone")
    await compare(
        blackbox,
        http_module(fail_if_body_not_matches_regexp=["here"]),
        url,
        http_check(url, 'body matches "here"'),
    )


async def test_a_header_that_must_not_match_and_does_fails_both_due_to_regex(
    blackbox: BlackboxExporter, nginx: Nginx
) -> None:
    url = nginx.url("/")
    result = await compare(
        blackbox,
        http_module(fail_if_header_matches=[{"header": "X-Version", "regexp": "^1\\."}]),
        url,
        http_check(url, 'header.X-Version !matches "^1\\."'),
    )
    assert result.status is Status.failed


async def test_a_header_that_must_match_and_does_passes_both(
    blackbox: BlackboxExporter, nginx: Nginx
) -> None:
    url = nginx.url("/")
    await compare(
        blackbox,
        http_module(fail_if_header_not_matches=[{"header": "X-Version", "regexp": "^1\\.2"}]),
        url,
        http_check(url, 'header.X-Version matches "^1\\.2"'),
    )


async def test_a_missing_header_passes_a_must_not_match_rule_in_livesite_only(
    blackbox: BlackboxExporter, nginx: Nginx
) -> None:
    url = nginx.url("/")
    result = await compare(
        blackbox,
        http_module(fail_if_header_matches=[{"header": "X-Debug", "regexp": "on"}]),
        url,
        http_check(url, 'header.X-Debug !matches "on"'),
        # Intended (docs/checks.md, "Assertions"): a missing subject passes every negative
        # assertion; blackbox fails a missing header unless the rule says allow_missing. Both
        # agree with allow_missing: true, and livesite's `header.X-Debug exists` demands the header.
        differ={"probe_success": (0, 1), "probe_failed_due_to_regex": (1, 0)},
    )
    assert result.status is Status.ok


# ---------------------------------------------------------------------------------------------- certificates


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority.root(tmp_path_factory.mktemp("differential-pki"))


def https(root: Authority, **tls: Any) -> dict[str, Any]:
    return http_module(tls_config={"ca_file": str(root.cert), **tls})


def tls_check(url: str, root: Authority, *rules: str, **tls: Any) -> dict[str, Any]:
    return http_check(url, *rules, tls={"ca_file": str(root.cert), **tls})


# Intended (issue #6): the connection was made and the handshake took time, so both are in their
# phases; blackbox counts a phase only once the request got a usable connection.
FAILED_HANDSHAKE: Differences = {
    'probe_http_duration_seconds{phase="connect"} > 0': (0, 1),
    'probe_http_duration_seconds{phase="tls"} > 0': (0, 1),
}


async def test_a_valid_certificate_exports_the_same_expiries_and_version(
    blackbox: BlackboxExporter, root: Authority
) -> None:
    leaf = root.leaf("valid", days=30)
    async with TargetServer(ssl_context=leaf.server_context()) as server:
        url = server.url("/status/200")
        result = await compare(blackbox, https(root), url, tls_check(url, root))
    assert result.status is Status.ok
    assert result.http is not None and result.http.tls is not None
    assert result.http.tls.earliest_expiry == leaf.not_after


async def test_an_intermediate_that_expires_first_is_the_earliest_expiry_in_both(
    blackbox: BlackboxExporter, root: Authority
) -> None:
    intermediate = root.intermediate("short-lived intermediate", days=10)
    leaf = intermediate.leaf("outlives its issuer", days=90)
    async with TargetServer(ssl_context=leaf.server_context()) as server:
        url = server.url("/status/200")
        result = await compare(
            blackbox, https(root), url, tls_check(url, root, "cert.days_left > 9", "cert.days_left < 11")
        )
    assert result.status is Status.ok, result.reason()
    assert result.http is not None and result.http.tls is not None
    assert result.http.tls.earliest_expiry == intermediate.not_after
    assert result.http.tls.chain_expiry == intermediate.not_after
    assert result.http.tls.leaf_expiry == leaf.not_after


async def test_an_expired_certificate_fails_both_and_livesite_names_its_not_after(
    blackbox: BlackboxExporter, root: Authority
) -> None:
    leaf = root.leaf("expired", days=-3)
    async with TargetServer(ssl_context=leaf.server_context()) as server:
        url = server.url("/status/200")
        result = await compare(
            blackbox,
            https(root),
            url,
            tls_check(url, root),
            differ=FAILED_HANDSHAKE,
        )
    assert result.status is Status.error
    when = leaf.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert result.reason() == f"tls: certificate of {server.address} has expired (notAfter {when})"


async def test_an_expired_intermediate_fails_both_and_livesite_names_it(
    blackbox: BlackboxExporter, root: Authority
) -> None:
    intermediate = root.intermediate("lapsed intermediate", days=-1)
    leaf = intermediate.leaf("still fine", days=30)
    async with TargetServer(ssl_context=leaf.server_context()) as server:
        url = server.url("/status/200")
        result = await compare(
            blackbox,
            https(root),
            url,
            tls_check(url, root),
            differ=FAILED_HANDSHAKE,
        )
    when = intermediate.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert result.reason() == (
        f"tls: certificate of {server.address} has expired: issuer CN=lapsed intermediate (notAfter {when})"
    )


async def test_a_certificate_for_another_host_fails_both(blackbox: BlackboxExporter, root: Authority) -> None:
    leaf = root.leaf("elsewhere", days=30, hostnames=("elsewhere.test",), ips=())
    async with TargetServer(ssl_context=leaf.server_context()) as server:
        url = server.url("/status/200")
        result = await compare(
            blackbox,
            https(root),
            url,
            tls_check(url, root),
            differ=FAILED_HANDSHAKE,
        )
    assert result.status is Status.error
    assert "127.0.0.1" in result.reason()


async def test_an_unverified_certificate_has_no_verified_chain_expiry_in_livesite(
    blackbox: BlackboxExporter, tmp_path: Path
) -> None:
    stranger = Authority.root(tmp_path, "nobody trusts me").leaf("stranger", days=20)
    async with TargetServer(ssl_context=stranger.server_context()) as server:
        url = server.url("/status/200")
        await compare(
            blackbox,
            http_module(tls_config={"insecure_skip_verify": True}),
            url,
            http_check(url, tls={"verify": False}),
            # Intended: without verification there is no verified chain. blackbox exports the Unix
            # time of Go's zero time (year 1) for it; livesite leaves the series out.
            differ={"probe_ssl_last_chain_expiry_timestamp_seconds": (-62135596800, None)},
        )


# ---------------------------------------------------------------------------------------------- tcp


def tcp_module(timeout: str = "2s", **tcp: Any) -> dict[str, Any]:
    return {"prober": "tcp", "timeout": timeout, "tcp": tcp}


def tcp_check(address: str, *rules: str, timeout: str = "2s", **fields: Any) -> dict[str, Any]:
    return {"kind": "tcp", "address": address, "timeout": timeout, "assert": list(rules), **fields}


def address_of(nginx: Nginx) -> str:
    return urlsplit(nginx.url()).netloc


async def test_a_tcp_greeting_that_matches_passes_both(blackbox: BlackboxExporter, nginx: Nginx) -> None:
    address = address_of(nginx)
    await compare(
        blackbox,
        # blackbox ends each line it sends with "\n"; nginx takes a bare LF as a line end.
        tcp_module(query_response=[{"send": "GET / HTTP/1.0\r\n"}, {"expect": "^HTTP/1.1 200"}]),
        address,
        tcp_check(address, send="GET / HTTP/1.0\\r\\n\\r\\n", expect="^HTTP/1.1 200"),
    )


async def test_a_tcp_greeting_that_does_not_match_fails_both_due_to_regex(
    blackbox: BlackboxExporter, nginx: Nginx
) -> None:
    address = address_of(nginx)
    result = await compare(
        blackbox,
        tcp_module(query_response=[{"send": "GET / HTTP/1.0\r\n"}, {"expect": "^SSH-2.0"}]),
        address,
        tcp_check(address, send="GET / HTTP/1.0\\r\\n\\r\\n", expect="^SSH-2.0"),
    )
    assert result.status is Status.failed


async def test_tcp_with_tls_exports_the_same_expiries_and_version(
    blackbox: BlackboxExporter, root: Authority
) -> None:
    intermediate = root.intermediate("tcp intermediate", days=20)
    leaf = intermediate.leaf("tcp leaf", days=40)
    async with TargetServer(ssl_context=leaf.server_context()) as server:
        result = await compare(
            blackbox,
            tcp_module(tls=True, tls_config={"ca_file": str(root.cert)}),
            server.address,
            tcp_check(server.address, "cert.days_left < 21", tls={"ca_file": str(root.cert)}),
        )
    assert result.status is Status.ok, result.reason()
    assert result.phases.tls > 0


async def test_tcp_with_tls_and_an_expired_certificate_fails_both(
    blackbox: BlackboxExporter, root: Authority
) -> None:
    leaf = root.leaf("expired tcp", days=-1)
    async with TargetServer(ssl_context=leaf.server_context()) as server:
        result = await compare(
            blackbox,
            tcp_module(tls=True, tls_config={"ca_file": str(root.cert)}),
            server.address,
            tcp_check(server.address, tls={"ca_file": str(root.cert)}),
        )
    when = leaf.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert result.reason() == f"tls: certificate of {server.address} has expired (notAfter {when})"
    assert result.phases.tls > 0  # the failed handshake's time


async def test_a_refused_tcp_connection_fails_both(blackbox: BlackboxExporter) -> None:
    address = f"127.0.0.1:{free_port()}"
    result = await compare(blackbox, tcp_module(), address, tcp_check(address))
    assert result.status is Status.error


# ---------------------------------------------------------------------------------------------- dns


def dns_module(query: str, timeout: str = "2s", **dns: Any) -> dict[str, Any]:
    return {
        "prober": "dns",
        "timeout": timeout,
        "dns": {"query_name": query, "query_type": "A", "transport_protocol": "udp", **dns},
    }


def dns_check(query: str, nameserver: str, *rules: str, timeout: str = "2s", **fields: Any) -> dict[str, Any]:
    return {
        "kind": "dns",
        "query": query,
        "nameserver": nameserver,
        "timeout": timeout,
        "assert": list(rules),
        **fields,
    }


async def test_an_answer_is_counted_alike(blackbox: BlackboxExporter, dnsmasq: Dnsmasq) -> None:
    result = await compare(
        blackbox,
        dns_module("shop.test"),
        dnsmasq.nameserver,
        dns_check("shop.test", dnsmasq.nameserver, "answers contains 127.0.0.1"),
    )
    assert result.status is Status.ok


async def test_nxdomain_fails_both(blackbox: BlackboxExporter, dnsmasq: Dnsmasq) -> None:
    result = await compare(
        blackbox,
        dns_module("missing.test"),
        dnsmasq.nameserver,
        dns_check("missing.test", dnsmasq.nameserver),
    )
    assert result.status is Status.failed  # a wrong answer, never retried


async def test_a_name_server_that_never_answers_fails_both_with_no_query_succeeded(
    blackbox: BlackboxExporter,
) -> None:
    with SilentNameServer() as silent:
        nameserver = f"127.0.0.1:{silent.port}"
        result = await compare(
            blackbox,
            dns_module("shop.test", timeout="500ms"),
            nameserver,
            dns_check("shop.test", nameserver, timeout="500ms"),
        )
    assert result.status is Status.error


async def test_a_udp_port_nobody_listens_on_fails_both(blackbox: BlackboxExporter) -> None:
    nameserver = f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
    result = await compare(
        blackbox,
        dns_module("shop.test"),
        nameserver,
        dns_check("shop.test", nameserver),
    )
    assert result.status is Status.error


async def test_the_name_servers_ip_protocol_is_exported_by_both(
    blackbox: BlackboxExporter, dnsmasq: Dnsmasq
) -> None:
    theirs = await blackbox.probe(dns_module("shop.test"), dnsmasq.nameserver)
    spec = KINDS["dns"].spec.model_validate({"name": "ip", **dns_check("shop.test", dnsmasq.nameserver)})
    ours = _exposition(await run_check(spec, RunContext(zone=Zone(name="local"))))
    assert ours.get("probe_ip_protocol") == theirs["probe_ip_protocol"] == 4


async def test_valid_rcodes_accept_nxdomain_in_both(blackbox: BlackboxExporter, dnsmasq: Dnsmasq) -> None:
    result = await compare(
        blackbox,
        dns_module("missing.test", valid_rcodes=["NXDOMAIN"]),
        dnsmasq.nameserver,
        dns_check("missing.test", dnsmasq.nameserver, valid_rcodes=["NXDOMAIN"]),
    )
    assert result.status is Status.ok
