"""The front of a zone: the built-in L7 router (livesite.dataplane.router) over the zone's shop instances.

So a demo rollout moves real weights on the same router users run with `livesite router`. Its admin API
(the demo's admin token required, `Authorization: Bearer ...`, but for /-/health; everything else is
forwarded to a shop instance):
    GET  /-/health               the front itself: {"status": "ok", "front": ..., "zone": ...}
    GET  /-/weights              current weights, e.g. {"shop-a1": 50, "shop-a2": 50}
    PUT  /-/weights              set some or all weights: {"shop-a1": 90, "shop-a2": 10}
    GET  /-/stats                per-backend requests, errors (5xx or unreachable) and latency
    DELETE /-/stats              reset the counters
and the rest of the router's API (routes, backends, faults: docs/router.md). Backends are picked by smooth
weighted round-robin (nginx's), so 90/10 means exactly 9 of every 10 requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Collection
from urllib.parse import urlsplit

from livesite import runtime
from livesite.dataplane.router import BackendSpec, HealthCheck, Router, RouterSettings
from livesite.dataplane.router.balance import RoundRobin
from livesite.demo.responses import ADMIN_REALM
from livesite.demo.settings import FrontSettings, load


class Balancer:
    """Smooth weighted round-robin (the router's own), with the names it may not pick this time."""

    def __init__(self, weights: dict[str, int]) -> None:
        self.rr = RoundRobin(weights)

    @property
    def weights(self) -> dict[str, int]:
        return self.rr.weights

    def set(self, weights: dict[str, int]) -> None:
        self.rr.set(weights)

    def pick(self, exclude: Collection[str] = ()) -> str | None:
        return self.rr.pick(set(self.rr.weights) - set(exclude)) if exclude else self.rr.pick()


def router_settings(settings: FrontSettings) -> RouterSettings:
    """The router a front is: its shop instances as backends, the demo's admin token, its name and zone."""
    backends = []
    for name, url in settings.backends.items():
        parts = urlsplit(url)
        backends.append(
            BackendSpec(
                name=name,
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 80,
                weight=settings.weights.get(name, 0),
            )
        )
    return RouterSettings(
        backends=tuple(backends),
        admin_token=settings.admin_token,
        labels={"front": settings.name, "zone": settings.zone or ""},
        admin_realm=ADMIN_REALM,
        admin_hint="send Authorization: Bearer $LIVESITE_DEMO_ADMIN_TOKEN (see `livesite demo env`)",
        # a killed instance is found by the failed request itself (which fails over); the checks keep
        # it out of the rotation until it is back
        health=HealthCheck(
            path="/health", interval_seconds=1.0, timeout_seconds=1.0, enabled=settings.failover
        ),
        failover=settings.failover,
    )


async def serve(settings: FrontSettings, fd: int) -> None:
    """Serve the front on the inherited listening socket `fd` until SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sock = socket.socket(fileno=fd)
    router = Router(router_settings(settings))
    await router.start(sock=sock)
    try:
        await stop.wait()
    finally:
        await router.stop(grace_seconds=2.0)
        with contextlib.suppress(OSError):
            sock.close()


def main() -> None:
    settings, fd = load(FrontSettings)
    runtime.run(serve(settings, fd))


if __name__ == "__main__":
    main()
