"""Check kinds, and the one registry that ties kind names to them.

Each kind is one module (``checks/<kind>.py``) exposing a :class:`~livesite.checks.kind.Kind`: its
spec model, its ``run``, the assertion subjects it observes and the metrics it exports. The config
union, the "unknown kind" message and ``/metrics`` are all built from :data:`KINDS`, so a new kind
costs one module and one line here (a test may pass its own mapping to :func:`run_check` and to
``livesite.config.load``).
"""

from __future__ import annotations

from collections.abc import Mapping

from livesite.checks import browser, cache, consistency, dns, http, journey, links, tcp, tls, token
from livesite.checks.context import ANONYMOUS, Credentials, Identity, Resources, RunContext
from livesite.checks.frame import execute
from livesite.checks.kind import Kind, Metric, Sample, Seen
from livesite.config.models import CheckBase
from livesite.results import Result

KINDS: Mapping[str, Kind] = {
    kind.name: kind
    for kind in (
        http.KIND,
        tcp.KIND,
        tls.KIND,
        dns.KIND,
        links.KIND,
        cache.KIND,
        token.KIND,
        consistency.KIND,
        browser.KIND,
        journey.KIND,
    )
}

HttpCheck = http.HttpCheck
TcpCheck = tcp.TcpCheck
TlsCheck = tls.TlsCheck
DnsCheck = dns.DnsCheck


async def run_check(spec: CheckBase, ctx: RunContext, kinds: Mapping[str, Kind] = KINDS) -> Result:
    """Run one check once in the zone of ``ctx``, as its identity. Never raises: a failure is a Result."""
    return await execute(spec, ctx, kinds)


__all__ = [
    "ANONYMOUS",
    "KINDS",
    "Credentials",
    "DnsCheck",
    "HttpCheck",
    "Identity",
    "Kind",
    "Metric",
    "Resources",
    "RunContext",
    "Sample",
    "Seen",
    "TcpCheck",
    "TlsCheck",
    "run_check",
]
