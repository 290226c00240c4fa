"""Where a livesite probe's CPU goes, layer by layer: a before/after tool for the hot path.

Each layer adds one piece of what ``bench/probes.py`` measures as a whole, against a local nginx,
fresh connection per probe, in this process (uvloop), CPU from ``getrusage`` (all threads):

1. ``net``: ``livesite.net.http1`` open_connection + exchange, nothing else (compare with a bare
   stdlib asyncio checker on the same loop).
2. ``run_check``: the check frame and Result, no assertions.
3. ``+ 3 assertions``: status, JSON flag, header.
4. ``+ store``: every Result through BatchWriter into SQLite.

Then pure micro-benchmarks without I/O: ``evaluate`` of the three assertions, building a Result, and
serialising it (``model_dump_json``, what the store does per row).

Prints one line per layer with CPU µs per probe and the share of the full cost; the last line is
``probe_cost: livesite Xµs CPU per stored probe vs bare asyncio Yµs → ratio Z×``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # bench/ is not a package: the sys.path line above makes this importable


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _repeat(probe: Callable[[], Awaitable[object]], requests: int, concurrency: int) -> None:
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await probe()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _measure(probe: Callable[[], Awaitable[object]], args: argparse.Namespace) -> float:
    """CPU µs per probe, after an uncounted warm-up."""
    await _repeat(probe, min(500, args.requests // 10), args.concurrency)
    cpu0 = _cpu()
    await _repeat(probe, args.requests, args.concurrency)
    return (_cpu() - cpu0) / int(args.requests) * 1e6


_YAML = """
checks:
  - name: plain
    url: {url}
  - name: asserted
    url: {url}
    assert:
      - status == 200
      - json.ok == true
      - header.X-Version == {revision}
"""


async def _layers(web: h.Nginx, args: argparse.Namespace, db: Path) -> list[tuple[str, float]]:
    from livesite.checks import RunContext, run_check
    from livesite.config import loads
    from livesite.net.http1 import Progress, Target, build_request, exchange, open_connection
    from livesite.results import Result
    from livesite.store import BatchWriter, open_store

    out: list[tuple[str, float]] = []
    host_port = web.url(0).split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    request = f"GET {h.PATH} HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n\r\n".encode()

    async def bare() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        data = await reader.read()
        writer.close()
        assert data.startswith(b"HTTP/1.1 200 ")

    out.append(("bare asyncio (floor)", await _measure(bare, args)))

    target = Target.parse(web.url(1))

    async def net() -> None:
        progress = Progress()
        connection = await open_connection(
            target,
            progress=progress,
            overrides={},
            ssl_context=None,
            server_name=None,
            max_body_bytes=1 << 20,
        )
        wire = build_request("GET", target, [("User-Agent", "livesite/0.1")], None, keep_alive=False)
        await exchange(connection, wire, progress, web.url(1))
        connection.close()

    out.append(("net: livesite http1", await _measure(net, args)))

    config = loads(_YAML.format(url=web.url(2), revision=h.REVISION))
    plain, asserted = config.checks
    ctx = RunContext(zone=config.zone("local"), defaults=config.defaults)

    async def check_plain() -> Result:
        return await run_check(plain, ctx)

    async def check_asserted() -> Result:
        result = await run_check(asserted, ctx)
        assert result.passed, result.reason()
        return result

    out.append(("run_check, no assertions", await _measure(check_plain, args)))
    out.append(("run_check + 3 assertions", await _measure(check_asserted, args)))

    store = await open_store(f"sqlite:///{db}")
    writer = BatchWriter(store)
    writer.start()

    async def stored() -> None:
        writer.put(await check_asserted())

    try:
        cpu0 = _cpu()
        await _repeat(stored, args.requests, args.concurrency)
        await writer.close()
        out.append(("run_check + 3 assertions + store", (_cpu() - cpu0) / args.requests * 1e6))
    finally:
        with contextlib.suppress(Exception):
            await writer.close()
        await store.close()
    return out


def _micro(args: argparse.Namespace) -> list[tuple[str, float]]:
    """Pure hot code, no I/O: µs per call."""
    from livesite.assertions import Observation, evaluate
    from livesite.checks import HttpCheck
    from livesite.config import loads
    from livesite.results import HttpObservation, Phases, Result, Status

    config = loads(_YAML.format(url="http://127.0.0.1:1/health", revision=h.REVISION))
    spec = config.checks[1]
    assert isinstance(spec, HttpCheck)
    rules = list(spec.assertions)
    headers = {"content-type": "application/json", "x-version": h.REVISION}
    body = h.BODY.encode()
    n = args.requests
    out: list[tuple[str, float]] = []

    t0 = time.process_time()
    for _ in range(n):
        outcomes = evaluate(
            rules, Observation(status_code=200, headers=headers, body=body, size_bytes=len(body))
        )
    out.append(("evaluate 3 assertions", (time.process_time() - t0) / n * 1e6))

    now = datetime.now(tz=UTC)
    t0 = time.process_time()
    for _ in range(n):
        result = Result(
            check="asserted",
            kind="http",
            zone="local",
            started_at=now,
            duration_seconds=0.001,
            status=Status.ok,
            phases=Phases(connect=0.0001, processing=0.0002, transfer=0.00001),
            assertions=outcomes,
            target="http://127.0.0.1:1/health",
            observation=HttpObservation(status_code=200, content_length=len(body), body_bytes=len(body)),
        )
    out.append(("build a Result (validated)", (time.process_time() - t0) / n * 1e6))

    t0 = time.process_time()
    for _ in range(n):
        result.model_dump_json()
    out.append(("Result.model_dump_json", (time.process_time() - t0) / n * 1e6))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000, help="probes per layer (default 10,000)")
    parser.add_argument("--concurrency", type=int, default=20, help="probes in flight (default 20)")
    args = parser.parse_args(argv)

    from livesite.runtime import run as run_loop

    print(
        f"load: {h.fmt(args.requests)} fresh-connection probes per layer, concurrency {args.concurrency}, "
        f"against nginx on 127.0.0.1, one process on uvloop; machine load average {h.load_average()}"
    )
    with tempfile.TemporaryDirectory(prefix="livesite-bench-cost-") as tmp, h.nginx(port_count=3) as web:
        layers = run_loop(_layers(web, args, Path(tmp).resolve() / "cost.db"))
    full = layers[-1][1]
    previous = None
    for name, us in layers:
        step = "" if previous is None or name.startswith("net") else f"  (+{us - previous:.0f})"
        print(f"  {name:<34} {us:7.1f} µs CPU per probe  {us / full:5.0%} of stored{step}")
        previous = us
    for name, us in _micro(args):
        print(f"  {name:<34} {us:7.1f} µs CPU per call (no I/O)")
    print(
        f"probe_cost: livesite {full:.0f}µs CPU per stored probe vs bare asyncio {layers[0][1]:.0f}µs "
        f"→ ratio {full / layers[0][1]:.2f}×"
    )


if __name__ == "__main__":
    main()
