"""The http check against real servers on 127.0.0.1: the in-process target server (for faults) and nginx."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from livesite.checks import HttpCheck, Resources, RunContext, run_check
from livesite.config import Zone
from livesite.net.resolve import NameServerResolver
from livesite.results import FailureKind, Result, Status
from livesite.testing.servers import Dnsmasq, Nginx, Pki, free_port, make_pki
from livesite.testing.target import TargetServer

pytestmark = pytest.mark.integration


def http(url: str, *rules: str, **fields: Any) -> HttpCheck:
    return HttpCheck.model_validate(
        {"name": "probe", "kind": "http", "url": url, "assert": list(rules), **fields}
    )


async def probe(spec: HttpCheck, ctx: RunContext | None = None) -> Result:
    return await run_check(spec, ctx or RunContext(zone=Zone(name="local")))


def failed_rules(result: Result) -> list[str]:
    return [a.describe() for a in result.assertions if not a.passed]


# ---------------------------------------------------------------------------------------------- answers


async def test_status_headers_and_body_assertions_pass_against_nginx(nginx: Nginx) -> None:
    result = await probe(
        http(
            nginx.url("/"),
            "status == 200",
            "status in 200..299",
            "header.Server matches '^nginx'",
            "header.Content-Type == text/plain",
            "body contains 'hello from nginx'",
            "size == 17",
        )
    )
    assert result.status is Status.ok, result.reason()
    assert result.http.status_code == 200
    assert result.http.body_bytes == 17


async def test_json_assertions_read_paths_and_lengths_from_nginx(nginx: Nginx) -> None:
    result = await probe(
        http(
            nginx.url("/json"),
            "json.ok == true",
            "json.items[2] == 3",
            "len(json.items) == 3",
            "json.name == nginx",
        )
    )
    assert result.status is Status.ok, result.reason()


async def test_a_wrong_status_fails_with_the_status_it_observed(nginx: Nginx) -> None:
    result = await probe(http(nginx.url("/teapot"), "status == 200"))
    assert result.status is Status.failed
    assert result.failure is not None and result.failure.kind is FailureKind.assertion
    assert result.assertions[0].observed == "418"
    assert result.reason() == "assertion: expected status == 200, observed 418"


async def test_target_headers_for_caches_and_cookies_can_be_asserted(target: TargetServer) -> None:
    result = await probe(http(target.url("/cache"), "header.Age < 60", "header.X-Cache == HIT"))
    assert result.status is Status.ok, result.reason()
    cookie = await probe(
        http(target.url("/cookie"), "header.Set-Cookie exists", "header.Set-Cookie contains session")
    )
    assert cookie.status is Status.ok, cookie.reason()
    assert "s3ss10n-v4lue" not in cookie.model_dump_json()  # the cookie value is masked in the observed value


async def test_fixed_status_route_sets_the_status_body_and_headers_asked_for(target: TargetServer) -> None:
    result = await probe(
        http(
            target.url("/status/503?body=down&h=Retry-After:30"),
            "status == 503",
            "header.Retry-After == 30",
            "body == down",
        )
    )
    assert result.status is Status.ok, result.reason()


async def test_phases_are_timed_for_an_http_request(nginx: Nginx) -> None:
    result = await probe(http(nginx.url("/")))
    assert result.phases.connect > 0
    assert result.phases.processing > 0
    assert result.phases.tls == 0
    assert result.phases.total() <= result.duration_seconds


async def test_phases_include_the_tls_handshake_on_https(tls_nginx: Nginx, pki: Pki) -> None:
    result = await probe(http(tls_nginx.https_url("/"), "status == 200", tls={"ca_file": str(pki.ca_cert)}))
    assert result.status is Status.ok, result.reason()
    assert result.phases.connect > 0
    assert result.phases.tls > 0
    assert result.phases.processing > 0


@pytest.mark.skipif(
    not hasattr(socket, "TCP_INFO"), reason="the kernel's handshake time is read on Linux only"
)
async def test_phases_do_not_count_time_the_event_loop_was_busy_elsewhere(nginx: Nginx) -> None:
    # Another probe's work holds the loop for 300 ms while the connection is being made. connect is
    # the kernel's measure of the handshake, and processing starts when the request is written, so
    # the 300 ms are in no phase. The margin is a thousand times a loopback exchange, so no machine
    # is slow enough to make this flaky.
    busy_seconds = 0.3

    def hold_the_loop() -> None:
        end = time.perf_counter() + busy_seconds
        while time.perf_counter() < end:
            pass

    check = asyncio.ensure_future(probe(http(nginx.url("/"))))
    asyncio.get_running_loop().call_soon(hold_the_loop)  # runs once the check waits for its connect
    result = await check
    assert result.status is Status.ok, result.reason()
    assert result.duration_seconds >= busy_seconds
    assert 0 < result.phases.connect < busy_seconds
    assert 0 < result.phases.processing < busy_seconds
    assert result.phases.transfer < busy_seconds


async def test_the_http_version_of_the_answer_is_observed(target: TargetServer) -> None:
    result = await probe(http(target.url("/json")))
    assert result.http is not None and result.http.http_version == "1.1"


async def test_the_revision_is_read_from_the_x_version_header(target: TargetServer, nginx: Nginx) -> None:
    assert (await probe(http(target.url("/json")))).revision == "2024.06.1"
    assert (await probe(http(nginx.url("/")))).revision == "1.2.3"


async def test_the_revision_header_can_be_renamed_per_check(target: TargetServer) -> None:
    spec = http(target.url("/status/200?h=X-Build:b77"), revision_header="X-Build")
    assert (await probe(spec)).revision == "b77"


# ---------------------------------------------------------------------------------------------- bodies


async def test_a_binary_body_is_measured_and_searched_without_decoding_errors(
    target: TargetServer, nginx: Nginx
) -> None:
    result = await probe(
        http(target.url("/binary"), "size == 256", "header.Content-Type == application/octet-stream")
    )
    assert result.status is Status.ok, result.reason()
    from_nginx = await probe(http(nginx.url("/files/binary.bin"), "size == 1KiB", "status == 200"))
    assert from_nginx.status is Status.ok, from_nginx.reason()
    assert from_nginx.http.body_bytes == 1024


async def test_chunked_and_close_delimited_bodies_are_read_to_the_end(target: TargetServer) -> None:
    chunked = await probe(http(target.url("/chunked?chunks=3"), "body == 'chunk 0;chunk 1;chunk 2;'"))
    assert chunked.status is Status.ok, chunked.reason()
    closed = await probe(http(target.url("/close-delimited"), "body == 'until the connection closes'"))
    assert closed.status is Status.ok, closed.reason()


async def test_a_slow_body_still_arrives_whole_within_the_timeout(target: TargetServer) -> None:
    result = await probe(http(target.url("/drip?chunks=4&ms=20"), "body == xxxx"))
    assert result.status is Status.ok, result.reason()
    assert result.phases.transfer >= 0.04


async def test_a_body_over_max_body_bytes_is_an_http_failure(target: TargetServer) -> None:
    result = await probe(http(target.url("/bytes?n=2000000"), max_body_bytes=100_000))
    assert result.status is Status.failed
    assert result.failure is not None and result.failure.kind is FailureKind.http
    assert "100000-byte limit" in result.failure.message


async def test_a_large_body_under_the_limit_is_counted(nginx: Nginx) -> None:
    result = await probe(http(nginx.url("/files/big.txt"), "size > 150kB"))
    assert result.status is Status.ok, result.reason()
    assert result.http.body_bytes == 200_000


# ---------------------------------------------------------------------------------------------- redirects


async def test_redirects_are_followed_and_the_chain_is_recorded(target: TargetServer) -> None:
    result = await probe(
        http(target.url("/redirect/3"), "status == 200", "redirects == 3", "body == arrived")
    )
    assert result.status is Status.ok, result.reason()
    assert result.http.redirects == [target.url(f"/redirect/{n}") for n in (2, 1, 0)]
    assert result.target == target.url("/redirect/0")


async def test_more_redirects_than_the_limit_is_an_http_failure(target: TargetServer) -> None:
    result = await probe(http(target.url("/redirect/5"), max_redirects=2))
    assert result.failure is not None and result.failure.kind is FailureKind.http
    assert result.failure.message == "more than 2 redirects"
    assert result.status is Status.failed


async def test_a_redirect_loop_is_detected_and_named(target: TargetServer) -> None:
    result = await probe(http(target.url("/loop/a")))
    assert result.failure is not None and result.failure.kind is FailureKind.http
    assert result.failure.message.startswith("redirect loop: ")
    assert target.url("/loop/a") in result.failure.message


async def test_redirects_are_not_followed_when_follow_redirects_is_off(nginx: Nginx) -> None:
    result = await probe(
        http(nginx.url("/moved"), "status == 301", "header.Location exists", follow_redirects=False)
    )
    assert result.status is Status.ok, result.reason()
    assert result.http.redirects == []


async def test_nginx_redirect_to_root_is_followed(nginx: Nginx) -> None:
    result = await probe(http(nginx.url("/moved"), "status == 200", "body contains hello"))
    assert result.status is Status.ok, result.reason()
    assert len(result.http.redirects) == 1


# ---------------------------------------------------------------------------------------------- request bodies


async def test_a_json_body_arrives_with_its_content_type(target: TargetServer) -> None:
    result = await probe(
        http(
            target.url("/echo"),
            "json.method == POST",
            "json.headers.content-type == application/json",
            method="POST",
            json={"sku": "A1", "qty": 2},
        )
    )
    assert result.status is Status.ok, result.reason()
    assert json.loads(target.received[-1].body) == {"sku": "A1", "qty": 2}


async def test_a_form_body_arrives_url_encoded(target: TargetServer) -> None:
    result = await probe(
        http(
            target.url("/echo"),
            "json.body == 'q=red+shoes&page=2'",
            method="POST",
            form={"q": "red shoes", "page": "2"},
        )
    )
    assert result.status is Status.ok, result.reason()
    assert target.received[-1].headers["content-type"] == "application/x-www-form-urlencoded"


async def test_a_raw_body_arrives_as_written_with_custom_headers(target: TargetServer) -> None:
    spec = http(
        target.url("/echo"),
        "json.method == PUT",
        method="PUT",
        body="plain text",
        headers={"Content-Type": "text/csv", "X-Trace": "t1"},
    )
    result = await probe(spec)
    assert result.status is Status.ok, result.reason()
    seen = target.received[-1]
    assert (seen.body, seen.headers["content-type"], seen.headers["x-trace"]) == (
        b"plain text",
        "text/csv",
        "t1",
    )
    assert seen.headers["user-agent"] == "livesite/0.1"


async def test_a_post_redirected_with_303_becomes_a_get_without_a_body(target: TargetServer) -> None:
    target.respond("/submit", 303, headers={"Location": "/echo"})
    result = await probe(
        http(target.url("/submit"), "json.method == GET", "json.body == ''", method="POST", json={"a": 1})
    )
    assert result.status is Status.ok, result.reason()
    assert "content-type" not in target.received[-1].headers


# ---------------------------------------------------------------------------------------------- auth and secrets


async def test_basic_auth_arrives_and_the_password_never_reaches_the_result(target: TargetServer) -> None:
    user, password = target.basic_auth
    spec = http(
        target.url("/auth/basic"),
        "status == 200",
        "json.headers.authorization exists",
        "body contains authorization",
        auth={"basic": {"username": user, "password": password}},
    )
    result = await probe(spec)
    assert result.status is Status.ok, result.reason()
    dumped = result.model_dump_json()
    assert password not in dumped
    assert base64.b64encode(f"{user}:{password}".encode()).decode() not in dumped


async def test_wrong_basic_credentials_fail_with_the_401_observed(target: TargetServer) -> None:
    spec = http(
        target.url("/auth/basic"),
        "status == 200",
        auth={"basic": {"username": "alice", "password": "wrong-one"}},
    )
    result = await probe(spec)
    assert result.status is Status.failed
    assert result.assertions[0].observed == "401"
    assert "wrong-one" not in result.model_dump_json()


async def test_bearer_auth_arrives_and_the_token_never_reaches_the_result(target: TargetServer) -> None:
    token = target.bearer_token
    spec = http(
        target.url("/auth/bearer"),
        "status == 200",
        "json.headers.authorization == 'Bearer wrong'",  # fails, so its observed value is shown
        auth={"bearer": {"token": token}},
    )
    result = await probe(spec)
    assert target.received[-1].headers["authorization"] == f"Bearer {token}"
    assert result.http.status_code == 200
    assert result.assertions[1].observed == "****"  # a subject named like a credential: masked whole
    assert token not in result.model_dump_json()


async def test_secret_query_parameters_are_masked_in_the_target_and_redirects(target: TargetServer) -> None:
    result = await probe(http(target.url("/status/200?api_key=k-123456&page=1")))
    assert "k-123456" not in result.model_dump_json()
    assert result.target.endswith("api_key=****&page=1")


# ---------------------------------------------------------------------------------------------- tls


async def test_an_untrusted_certificate_is_a_tls_error_that_says_why(tls_nginx: Nginx) -> None:
    result = await probe(http(tls_nginx.https_url("/")))
    assert result.status is Status.error
    assert result.failure is not None and result.failure.kind is FailureKind.tls
    assert "unable to get local issuer certificate" in result.failure.message
    assert tls_nginx.https_address in result.failure.message


async def test_a_failed_handshake_is_timed_in_the_tls_phase(tls_nginx: Nginx) -> None:
    result = await probe(http(tls_nginx.https_url("/")))
    assert result.failure is not None and result.failure.kind is FailureKind.tls
    assert result.phases.connect > 0
    assert result.phases.tls > 0
    assert result.phases.processing == 0


async def test_a_certificate_for_another_name_is_a_tls_error(tls_nginx: Nginx, pki: Pki) -> None:
    spec = http(tls_nginx.https_url("/"), tls={"ca_file": str(pki.ca_cert), "server_name": "other.example"})
    result = await probe(spec)
    assert result.failure is not None and result.failure.kind is FailureKind.tls
    assert "other.example" in result.failure.message


async def test_tls_verify_false_accepts_an_untrusted_certificate(tls_nginx: Nginx) -> None:
    result = await probe(http(tls_nginx.https_url("/"), "status == 200", tls={"verify": False}))
    assert result.status is Status.ok, result.reason()


async def test_a_client_certificate_opens_a_location_that_requires_one(tls_nginx: Nginx, pki: Pki) -> None:
    without = await probe(
        http(tls_nginx.https_url("/mtls/"), "status == 200", tls={"ca_file": str(pki.ca_cert)})
    )
    assert without.status is Status.failed and without.http.status_code == 403
    tls = {"ca_file": str(pki.ca_cert), "cert_file": str(pki.client_cert), "key_file": str(pki.client_key)}
    result = await probe(
        http(tls_nginx.https_url("/mtls/"), "status == 200", "body contains 'CN=livesite probe'", tls=tls)
    )
    assert result.status is Status.ok, result.reason()


async def test_cert_days_left_comes_from_the_real_certificate(tls_nginx: Nginx, pki: Pki) -> None:
    spec = http(
        tls_nginx.https_url("/"),
        "cert.days_left > 29",
        "cert.days_left < 31",
        "cert.days_left > 14d",
        tls={"ca_file": str(pki.ca_cert)},
    )
    result = await probe(spec)
    assert result.status is Status.ok, result.reason()
    assert result.observation.tls.earliest_expiry == pki.not_after
    assert result.assertions[0].observed is not None and result.assertions[0].observed.startswith(
        ("29.", "30.")
    )


async def test_a_zone_resolve_override_reaches_a_name_that_dns_does_not_know(
    tls_nginx: Nginx, pki: Pki
) -> None:
    zone = Zone(name="edge", resolve={"shop.test": "127.0.0.1"})
    spec = http(
        tls_nginx.https_url("/", host="shop.test"), "status == 200", tls={"ca_file": str(pki.ca_cert)}
    )
    result = await probe(spec, RunContext(zone=zone))
    assert result.status is Status.ok, result.reason()
    assert result.zone == "edge"


# ---------------------------------------------------------------------------------------------- no usable answer


async def test_a_server_that_never_answers_is_a_timeout_that_names_the_phase(target: TargetServer) -> None:
    result = await probe(http(target.hang_url("/"), timeout="300ms"))
    assert result.status is Status.error
    assert result.failure is not None and result.failure.kind is FailureKind.timeout
    assert result.failure.message == "no answer within 0.3s (stopped during processing)"
    assert result.phases.connect > 0


async def test_a_slow_first_byte_times_out_in_processing_and_a_slow_body_in_transfer(
    target: TargetServer,
) -> None:
    late = await probe(http(target.url("/delay?ms=2000"), timeout="200ms"))
    assert late.failure is not None and late.failure.message.endswith("(stopped during processing)")
    dripping = await probe(http(target.url("/drip?chunks=50&ms=50"), timeout="200ms"))
    assert dripping.failure is not None and dripping.failure.message.endswith("(stopped during transfer)")


async def test_a_refused_connection_is_a_connect_error() -> None:
    port = free_port()
    result = await probe(http(f"http://127.0.0.1:{port}/"))
    assert result.status is Status.error
    assert result.failure is not None and result.failure.kind is FailureKind.connect
    assert f"127.0.0.1:{port}" in result.failure.message


async def test_an_unresolvable_host_is_a_dns_error() -> None:
    result = await probe(http("http://no-such-host.invalid/"))
    assert result.failure is not None and result.failure.kind is FailureKind.dns
    assert "no-such-host.invalid" in result.failure.message


async def test_a_garbage_response_is_a_protocol_error(target: TargetServer) -> None:
    result = await probe(http(target.url("/garbage")))
    assert result.status is Status.error
    assert result.failure is not None and result.failure.kind is FailureKind.protocol
    assert result.failure.message.startswith("invalid HTTP response")


async def test_a_connection_closed_mid_response_is_a_protocol_error(target: TargetServer) -> None:
    result = await probe(http(target.url("/close-mid")))
    assert result.failure is not None and result.failure.kind is FailureKind.protocol
    assert result.failure.message == "the connection closed in the middle of the response"


# ---------------------------------------------------------------------------------------------- names


def resources_asking(dnsmasq: Dnsmasq) -> Resources:
    """Resources whose resolver asks dnsmasq (shop.test → 127.0.0.1), not the system."""
    return Resources(resolver=NameServerResolver([("127.0.0.1", dnsmasq.port)]))


async def test_checks_look_names_up_with_the_resources_resolver(nginx: Nginx, dnsmasq: Dnsmasq) -> None:
    ctx = RunContext(zone=Zone(name="local"), resources=resources_asking(dnsmasq))
    result = await probe(http(f"http://shop.test:{nginx.port}/", "status == 200"), ctx)
    assert result.status is Status.ok, result.reason()
    assert result.phases.resolve > 0
    assert result.http is not None and result.http.ip_protocol == 4


async def test_a_refused_connection_to_a_looked_up_name_still_exports_its_address_family(
    dnsmasq: Dnsmasq,
) -> None:
    # As blackbox: the name resolved, so probe_ip_protocol is known though no connection was made.
    ctx = RunContext(zone=Zone(name="local"), resources=resources_asking(dnsmasq))
    result = await probe(http(f"http://shop.test:{free_port()}/"), ctx)
    assert result.failure is not None and result.failure.kind is FailureKind.connect
    assert result.http is not None and (result.http.status_code, result.http.ip_protocol) == (0, 4)


async def test_a_name_that_does_not_resolve_exports_no_address_family(dnsmasq: Dnsmasq) -> None:
    ctx = RunContext(zone=Zone(name="local"), resources=resources_asking(dnsmasq))
    result = await probe(http("http://missing.test/"), ctx)
    assert result.failure is not None and result.failure.kind is FailureKind.dns
    assert result.http is not None and result.http.ip_protocol == 0


# ---------------------------------------------------------------------------------------------- budgets and reuse


async def test_a_broken_latency_budget_degrades_instead_of_failing(target: TargetServer) -> None:
    result = await probe(http(target.url("/delay?ms=30"), "status == 200", budget=["latency < 1ms"]))
    assert result.status is Status.degraded
    assert result.passed
    assert result.failure is None
    assert result.assertions[1].budget and not result.assertions[1].passed


async def test_a_reused_connection_skips_connect_on_the_second_probe(target: TargetServer) -> None:
    ctx = RunContext(zone=Zone(name="local"), resources=Resources())
    spec = http(target.url("/json"), "status == 200", reuse_connection=True)
    first, second = await probe(spec, ctx), await probe(spec, ctx)
    ctx.resources.close()
    assert first.status is Status.ok and second.status is Status.ok, (first.reason(), second.reason())
    assert first.phases.connect > 0
    assert second.phases.connect == 0
    assert target.connections == 1
    assert [r.connection for r in target.received] == [1, 1]


async def test_a_kept_connection_the_server_dropped_is_replaced_by_a_fresh_one() -> None:
    import asyncio

    served: list[int] = []
    handlers: list[asyncio.Task[None]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Answers the first request of each connection, then drops the connection at the next one,
        # as a server whose keep-alive timeout passed does.
        served.append(len(served) + 1)
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            pass  # the client closed first: fine
        finally:
            writer.close()
            await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        ctx = RunContext(zone=Zone(name="local"), resources=Resources())
        spec = http(f"http://127.0.0.1:{port}/", "status == 200", reuse_connection=True)
        first, second = await probe(spec, ctx), await probe(spec, ctx)
        ctx.resources.close()
        await asyncio.gather(*handlers)
    assert first.status is Status.ok
    assert second.status is Status.ok, second.reason()
    assert served == [1, 2]


async def test_without_reuse_every_probe_opens_a_new_connection(target: TargetServer) -> None:
    spec = http(target.url("/json"))
    ctx = RunContext(zone=Zone(name="local"))
    await probe(spec, ctx)
    await probe(spec, ctx)
    assert target.connections == 2
    assert target.received[-1].headers["connection"] == "close"


# ---------------------------------------------------------------------------------------------- fixed bugs


async def test_a_head_request_ends_at_the_headers_despite_a_content_length(
    nginx: Nginx, target: TargetServer
) -> None:
    result = await probe(http(nginx.url("/"), "status == 200", "size == 0", method="HEAD", timeout="2s"))
    assert result.status is Status.ok, result.reason()
    again = await probe(http(target.url("/json"), "header.Content-Length > 0", method="HEAD", timeout="2s"))
    assert again.status is Status.ok, again.reason()


async def test_a_host_header_of_the_check_replaces_the_one_from_the_url(
    target: TargetServer, nginx: Nginx
) -> None:
    result = await probe(
        http(target.url("/echo"), "json.headers.host == shop.test", headers={"Host": "shop.test"})
    )
    assert result.status is Status.ok, result.reason()
    assert (
        await probe(http(nginx.url("/"), "status == 200", headers={"Host": "shop.test"}))
    ).status is Status.ok


async def test_credentials_are_not_sent_to_another_origin_after_a_redirect(target: TargetServer) -> None:
    async with TargetServer() as elsewhere:
        target.respond("/away", 302, headers={"Location": elsewhere.url("/echo")})
        spec = http(
            target.url("/away"),
            "status == 200",
            auth={"bearer": {"token": "tok-never-leaves"}},
            headers={"Cookie": "sid=abcdef"},
        )
        result = await probe(spec)
        assert result.status is Status.ok, result.reason()
        assert target.received[-1].headers["authorization"] == "Bearer tok-never-leaves"
        assert "authorization" not in elsewhere.received[-1].headers
        assert "cookie" not in elsewhere.received[-1].headers


async def test_credentials_follow_a_redirect_on_the_same_origin(target: TargetServer) -> None:
    target.respond("/login-first", 302, headers={"Location": "/auth/bearer"})
    result = await probe(
        http(target.url("/login-first"), "status == 200", auth={"bearer": {"token": target.bearer_token}})
    )
    assert result.status is Status.ok, result.reason()


async def test_a_reused_connection_is_not_used_for_a_redirect_to_another_origin(
    target: TargetServer, tls_nginx: Nginx, pki: Pki
) -> None:
    target.respond("/secure", 301, headers={"Location": tls_nginx.https_url("/")})
    ctx = RunContext(zone=Zone(name="local"), resources=Resources())
    spec = http(
        target.url("/secure"),
        "status == 200",
        "body contains nginx",
        reuse_connection=True,
        tls={"ca_file": str(pki.ca_cert)},
    )
    result = await probe(spec, ctx)
    ctx.resources.close()
    assert result.status is Status.ok, result.reason()
    assert result.phases.tls > 0


async def test_an_https_target_server_is_probed_with_its_own_ca(tmp_path: Path) -> None:
    own = make_pki(tmp_path, days=90)
    async with TargetServer(ssl_context=own.server_context()) as secure:
        result = await probe(
            http(
                secure.url("/json"),
                "json.ok == true",
                "cert.days_left > 89",
                tls={"ca_file": str(own.ca_cert)},
            )
        )
    assert result.status is Status.ok, result.reason()


async def test_a_body_in_a_reason_is_one_bounded_line(target: TargetServer) -> None:
    target.respond("/long", body="first line\r\nsecond line\n" + "x" * 5000)
    result = await probe(http(target.url("/long"), 'body matches "^never"'))
    observed = result.assertions[0].observed
    assert observed == ("first line second line " + "x" * 5000)[:120] + "…"  # line breaks become a space
    assert result.reason() == f'assertion: expected body matches "^never", observed {observed}'
