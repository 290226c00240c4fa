"""The router's own Python cost per request, with the sockets taken away (no peer: for before/after).

One keep-alive GET and nginx's usual answer (7 headers, 44-byte body) go through the real
``ClientConnection`` and ``UpstreamConnection`` objects of a real ``Router`` on uvloop, with fake
transports that only count writes. CPU time (``time.process_time``), not wall time, so other work on a
shared machine barely moves it. What is left of ``bench/router.py``'s CPU per request is uvloop and the
kernel (four socket calls per request, the same as HAProxy's). ``--profile`` prints the top functions.

Last line: ``router_cost: X µs of Python per request``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this tree's livesite, not another

from livesite import runtime
from livesite.dataplane.router import HealthCheck, Router, RouterSettings, parse_backends
from livesite.dataplane.router.client import ClientConnection
from livesite.dataplane.router.upstream import UpstreamConnection

REQUEST = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n\r\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 29 Nov 2026 19:00:00 GMT\r\n"
    b"Content-Type: application/json\r\nContent-Length: 44\r\nConnection: keep-alive\r\nX-Version: v1\r\n\r\n"
    + b'{"ok":true,"service":"bench","version":"v1"}'
)


class FakeTransport:
    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def writelines(self, data: object) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str) -> object:
        return ("127.0.0.1", 40000)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


async def measure(requests: int, profile: bool) -> float:
    settings = RouterSettings(
        port=0,
        backends=parse_backends(["stable=http://127.0.0.1:1=90", "canary=http://127.0.0.1:2=10"]),
        health=HealthCheck(enabled=False),
    )
    router = Router(settings)
    client = ClientConnection(router)
    client.connection_made(FakeTransport())  # type: ignore[arg-type]
    upstreams = {}
    for backend in router.backends.values():
        conn = UpstreamConnection(backend.pool)
        conn.connection_made(FakeTransport())  # type: ignore[arg-type]
        backend.pool.release(conn)
        upstreams[backend.name] = conn

    def one() -> None:
        client.data_received(REQUEST)
        assert client.backend is not None
        upstreams[client.backend.name].data_received(RESPONSE)

    for _ in range(2_000):
        one()
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    for _ in range(requests):
        one()
    if profiler is not None:
        profiler.disable()
    seconds = time.process_time() - started
    stats = router.backends["stable"].stats.requests + router.backends["canary"].stats.requests
    assert stats == requests + 2_000, stats  # every request went through
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    return seconds / requests


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    per_request = runtime.run(measure(args.requests, args.profile))
    print(
        f"router_cost: {per_request * 1e6:.1f} µs of Python per request ({args.requests:,} requests, CPU time)"
    )


if __name__ == "__main__":
    main()
