"""host:port for the kinds that speak to a socket, defaulting to the zone's base_url."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from livesite.checks.context import RunContext
from livesite.config.models import Zone
from livesite.config.types import parse_host_port
from livesite.net.errors import ProbeError
from livesite.net.resolve import resolve
from livesite.results import FailureKind


def host_port(address: str | None, zone: Zone, default_port: int) -> tuple[str, int]:
    if address is None:
        if zone.base_url is None:
            raise ProbeError(FailureKind.connect, f"no address given and zone {zone.name!r} has no base_url")
        parts = urlsplit(zone.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return parts.hostname or "", port
    try:
        # The config's own rule, so a run reads an address exactly as validation did ([::1]:443).
        return parse_host_port(address, "address", default_port=default_port)
    except ValueError as e:
        raise ProbeError(FailureKind.connect, str(e)) from None


async def resolved(ctx: RunContext, address: str | None, default_port: int) -> tuple[str, str, int]:
    """(host, ip, port) of what to connect to, with the resolve phase timed and the target named."""
    t0 = time.perf_counter()
    host, port = host_port(address, ctx.zone, default_port)
    ctx.target = f"{host}:{port}"
    ip = await resolve(host, ctx.zone.resolve, ctx.resources.resolver)
    ctx.progress.address = ip
    ctx.progress.resolve = time.perf_counter() - t0
    ctx.progress.phase = "connect"
    return host, ip, port
