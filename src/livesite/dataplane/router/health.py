"""Active health checks: ``GET path`` on every backend each interval, on a fresh connection.

A backend leaves the rotation after ``fall`` failures in a row (no answer, or 5xx) and comes back
after ``rise`` successes. Requests already refused by a dead backend fail over at once (core.py);
the checks only keep new requests from trying it first.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from livesite.dataplane.router.core import Backend, Router


async def probe(host: str, port: int, path: str, timeout_seconds: float) -> bool:
    """True when the backend answers the path with a status below 500 within the timeout."""
    writer = None
    try:
        async with asyncio.timeout(timeout_seconds):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: livesite-router-health\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            line = await reader.readline()
    except (OSError, TimeoutError, ValueError):
        return False
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    parts = line.split()
    return len(parts) >= 2 and parts[0].startswith(b"HTTP/1.") and parts[1].isdigit() and int(parts[1]) < 500


async def check(router: Router, backend: Backend) -> None:
    h = router.settings.health
    ok = await probe(backend.spec.host, backend.spec.port, h.path, h.timeout_seconds)
    if ok:
        backend.passes += 1
        backend.fails = 0
        if not backend.healthy and backend.passes >= h.rise:
            router.set_health(backend, True)
    else:
        backend.fails += 1
        backend.passes = 0
        if backend.healthy and backend.fails >= h.fall:
            router.set_health(backend, False)


async def run(router: Router) -> None:
    interval = router.settings.health.interval_seconds
    while True:
        await asyncio.gather(*(check(router, b) for b in router.backends.values()))
        await asyncio.sleep(interval)
