"""The dns check kind: ask a name server for a record; assert on the answers."""

from __future__ import annotations

import time

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

from livesite.assertions import Observation, evaluate
from livesite.checks.context import RunContext
from livesite.checks.frame import completed, phases_of
from livesite.config.models import CheckSpec, DnsCheck
from livesite.net.errors import ProbeError
from livesite.results import FailureKind, Result


def _nameserver(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and not host.endswith(":"):
        return host.strip("[]"), int(port)
    return text, 53


async def _ask(spec: DnsCheck, timeout: float) -> tuple[str, list[str]]:
    query = dns.message.make_query(spec.query, dns.rdatatype.from_text(spec.record_type))
    if spec.nameserver is None:
        resolver = dns.asyncresolver.Resolver()
        server, port = resolver.nameservers[0], resolver.port
    else:
        server, port = _nameserver(spec.nameserver)
    ask = dns.asyncquery.tcp if spec.transport == "tcp" else dns.asyncquery.udp
    try:
        reply = await ask(query, str(server), timeout=timeout, port=port)
    except dns.exception.Timeout:
        raise ProbeError(FailureKind.timeout, f"name server {server}:{port} did not answer") from None
    except (OSError, dns.exception.DNSException) as e:
        raise ProbeError(FailureKind.dns, f"asking {server}:{port} failed: {e}") from None
    answers = [rdata.to_text() for rrset in reply.answer for rdata in rrset]
    return dns.rcode.to_text(reply.rcode()), answers


async def run(spec: CheckSpec, ctx: RunContext) -> Result:
    assert isinstance(spec, DnsCheck)
    started_at = ctx.now()
    t0 = time.perf_counter()
    ctx.progress.phase = "resolve"
    ctx.target = f"{spec.query} {spec.record_type}"
    timeout = spec.timeout if spec.timeout is not None else ctx.defaults.timeout
    rcode, answers = await _ask(spec, timeout)
    duration = time.perf_counter() - t0
    ctx.progress.resolve = duration
    seen = Observation(answers=answers, total_seconds=duration, phases=phases_of(ctx), rcode=rcode)
    rules = [*spec.assertions, *spec.budget]
    outcomes = evaluate(rules, seen)
    if not spec.assertions and rcode != "NOERROR":
        raise ProbeError(FailureKind.dns, f"{spec.query} {spec.record_type}: {rcode}")
    return completed(spec, ctx, started_at, duration, outcomes)
