"""The dns kind: ask a name server for a record, as blackbox_exporter's dns prober does.

The answer code must be NOERROR (or one of ``valid_rcodes``) unless an assertion names ``rcode``:
an NXDOMAIN is a wrong answer (``failed``, never retried), not a network error. The time to
resolve the name server's own name is ``probe_dns_lookup_time_seconds``; the query's own time is
``probe_dns_duration_seconds{phase="request"}``.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Iterable
from typing import ClassVar, Literal

import dns.asyncbackend
import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.inet
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
from dns._asyncbackend import DatagramSocket, StreamSocket
from pydantic import Field, field_validator

from livesite.assertions import Assertion, Observation, parse
from livesite.checks.context import RunContext
from livesite.checks.kind import Kind, Metric, Sample, Seen
from livesite.config.models import CheckBase
from livesite.net.errors import ProbeError
from livesite.net.resolve import resolve
from livesite.results import DnsObservation, FailureKind, Result


class DnsCheck(CheckBase):
    SUBJECTS: ClassVar[frozenset[str]] = frozenset({"latency", "answers", "rcode"})

    kind: Literal["dns"]
    query: str
    record_type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "SOA", "PTR", "CAA"] = "A"
    nameserver: str | None = Field(None, description="host:port; default: the system resolver")
    transport: Literal["udp", "tcp"] = "udp"
    valid_rcodes: list[str] = Field(
        default_factory=lambda: ["NOERROR"],
        description="answer codes that pass when no assertion names rcode",
    )

    @field_validator("query")
    @classmethod
    def _name(cls, v: str) -> str:
        try:
            dns.name.from_text(v)
        except dns.exception.DNSException as e:
            raise ValueError(f"query {v[:80]!r} is not a DNS name: {e}") from None
        return v

    @field_validator("valid_rcodes")
    @classmethod
    def _rcodes(cls, v: list[str]) -> list[str]:
        for code in v:
            try:
                dns.rcode.from_text(code)
            except dns.rcode.UnknownRcode:
                raise ValueError(
                    f"{code!r} is not a DNS answer code (hint: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...)"
                ) from None
        return [c.upper() for c in v]

    def implied(self) -> list[Assertion]:
        if any(rule.subject.name == "rcode" for rule in self.assertions):
            return []
        codes = ", ".join(f'"{c}"' for c in self.valid_rcodes)
        return [parse(f"rcode in [{codes}]")]


def _nameserver(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and not host.endswith(":"):
        return host.strip("[]"), int(port)
    return text, 53


async def run(spec: CheckBase, ctx: RunContext) -> Seen:
    assert isinstance(spec, DnsCheck)
    progress = ctx.progress
    ctx.target = f"{spec.query} {spec.record_type}"
    t0 = time.perf_counter()
    if spec.nameserver is None:
        resolver = dns.asyncresolver.Resolver()
        host, port = str(resolver.nameservers[0]), resolver.port
    else:
        host, port = _nameserver(spec.nameserver)
    server = await resolve(host, ctx.zone.resolve, ctx.resources.resolver)
    progress.address = server
    t1 = time.perf_counter()
    progress.resolve = t1 - t0
    progress.phase = "connect"
    query = dns.message.make_query(spec.query, dns.rdatatype.from_text(spec.record_type))
    timeout = spec.timeout if spec.timeout is not None else ctx.defaults.timeout
    family = 6 if ":" in server else 4
    ctx.observation = DnsObservation(lookup_seconds=progress.resolve, ip_protocol=family)
    tcp = spec.transport == "tcp"
    # The socket is made (for tcp: connected) here rather than inside dnspython, so that its time is
    # the connect phase and only the exchange is the query's, as blackbox splits them.
    backend = dns.asyncbackend.get_default_backend()
    try:
        sock = await backend.make_socket(  # type: ignore[no-untyped-call]  # dnspython leaves it untyped
            dns.inet.af_for_address(server),
            socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM,
            0,
            None,
            (server, port),
            timeout if math.isfinite(timeout) else None,
        )
    except dns.exception.Timeout:
        raise ProbeError(FailureKind.timeout, f"name server {server}:{port} did not answer") from None
    except OSError as e:
        raise ProbeError(FailureKind.dns, f"asking {server}:{port} failed: {e.strerror or e}") from None
    finally:
        t2 = time.perf_counter()
        progress.connect = t2 - t1
    progress.phase = "query"  # timed as the processing phase; named as blackbox's "request"
    try:
        async with sock:
            if tcp:
                assert isinstance(sock, StreamSocket)
                reply = await dns.asyncquery.tcp(query, server, timeout=timeout, port=port, sock=sock)
            else:
                assert isinstance(sock, DatagramSocket)
                reply = await dns.asyncquery.udp(query, server, timeout=timeout, port=port, sock=sock)
    except dns.exception.Timeout:
        raise ProbeError(FailureKind.timeout, f"name server {server}:{port} did not answer") from None
    except OSError as e:
        raise ProbeError(FailureKind.dns, f"asking {server}:{port} failed: {e.strerror or e}") from None
    except dns.exception.DNSException as e:
        raise ProbeError(FailureKind.dns, f"asking {server}:{port} failed: {e}") from None
    finally:
        progress.processing = time.perf_counter() - t2
    answers = [rdata.to_text() for rrset in reply.answer for rdata in rrset]
    rcode = dns.rcode.to_text(reply.rcode())
    observation = DnsObservation(
        rcode=rcode,
        answers=answers,
        answer_rrs=sum(len(r) for r in reply.answer),
        authority_rrs=sum(len(r) for r in reply.authority),
        additional_rrs=sum(len(r) for r in reply.additional),
        query_succeeded=True,
        lookup_seconds=progress.resolve,
        ip_protocol=family,
    )
    return Seen(view=Observation(answers=answers, rcode=rcode), observation=observation)


METRICS = (
    Metric("probe_dns_duration_seconds", "gauge", "Duration of the last dns run by phase"),
    Metric("probe_dns_answer_rrs", "gauge", "Records in the answer section"),
    Metric("probe_dns_authority_rrs", "gauge", "Records in the authority section"),
    Metric("probe_dns_additional_rrs", "gauge", "Records in the additional section"),
    Metric("probe_dns_query_succeeded", "gauge", "Whether the name server answered"),
    Metric("probe_ip_protocol", "gauge", "IP protocol of the name server's address: 4 or 6"),
)


def samples(result: Result) -> Iterable[Sample]:
    p = result.phases
    for phase, value in (("resolve", p.resolve), ("connect", p.connect), ("request", p.processing)):
        yield "probe_dns_duration_seconds", f'phase="{phase}"', value
    obs = result.observation
    if not isinstance(obs, DnsObservation):
        obs = DnsObservation()
    yield "probe_dns_answer_rrs", "", obs.answer_rrs
    yield "probe_dns_authority_rrs", "", obs.authority_rrs
    yield "probe_dns_additional_rrs", "", obs.additional_rrs
    yield "probe_dns_query_succeeded", "", int(obs.query_succeeded)
    if obs.ip_protocol:
        yield "probe_ip_protocol", "", obs.ip_protocol


KIND = Kind(spec=DnsCheck, run=run, metrics=METRICS, samples=samples)
