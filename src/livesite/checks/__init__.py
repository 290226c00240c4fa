"""Check kinds. Each is one module exposing ``async def run(spec, ctx) -> Result``; this map ties
kind names to them. A new kind costs one module, one line here and one test module."""

from __future__ import annotations

from collections.abc import Mapping

from livesite.checks import dns, http, tcp, tls
from livesite.checks.context import Resources, RunContext
from livesite.checks.frame import Runner, execute
from livesite.config.models import CheckSpec
from livesite.results import Result

RUNNERS: Mapping[str, Runner] = {
    "http": http.run,
    "tcp": tcp.run,
    "tls": tls.run,
    "dns": dns.run,
}


async def run_check(spec: CheckSpec, ctx: RunContext) -> Result:
    """Run one check once in the zone of ``ctx``. Never raises: a failure is a Result."""
    return await execute(spec, ctx, RUNNERS)


__all__ = ["RUNNERS", "Resources", "RunContext", "run_check"]
