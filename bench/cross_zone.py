"""What comparing zones costs: one consistency run over N zones vs N http probes of the same URL.

A local nginx (1 worker) answers on N ports, one per zone. In this process (uvloop), CPU from
``getrusage``: first N http checks (one per zone, fresh connection each, as the monitor runs them),
then one ``kind: consistency`` run that visits the N zones (one Session, the requests at once,
compared by status and revision). Both go through ``run_check``, the frame and redaction. There is no
outside peer for a cross-zone comparison (blackbox_exporter probes one target per scrape), so the
peer is livesite's own per-zone http check: the ratio says what the comparison adds per request.

Last line: ``cross_zone: consistency X µs CPU per zone vs http Y µs per probe → ratio Z×``.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # bench/ is not a package: the sys.path line above makes this importable


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(run: Callable[[], Awaitable[object]], runs: int, concurrency: int) -> float:
    """CPU µs per run, after an uncounted warm-up."""

    async def repeat(n: int) -> None:
        left = n

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await run()

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    await repeat(max(20, runs // 10))
    cpu0 = _cpu()
    await repeat(runs)
    return (_cpu() - cpu0) / runs * 1e6


async def _bench(web: h.Nginx, args: argparse.Namespace) -> tuple[float, float]:
    from livesite.checks import RunContext, run_check
    from livesite.checks.consistency import ConsistencyCheck
    from livesite.checks.http import HttpCheck
    from livesite.config.models import Zone
    from livesite.results import Status

    zones = tuple(
        Zone(name=f"zone-{i}", base_url=f"http://127.0.0.1:{port}") for i, port in enumerate(web.ports)
    )
    contexts = [RunContext(zone=z, zones=zones) for z in zones]
    http = HttpCheck(name="h", url=h.PATH)
    consistency = ConsistencyCheck(name="c", url=h.PATH, compare=["status", "revision"])
    for ctx in contexts:
        assert (await run_check(http, ctx)).status is Status.ok
    checked = await run_check(consistency, contexts[0])
    assert checked.status is Status.ok, checked.reason()

    async def per_zone_http() -> None:
        for ctx in contexts:
            await run_check(http, ctx)

    async def one_consistency() -> None:
        await run_check(consistency, contexts[0])

    n = len(zones)
    http_us = await _measure(per_zone_http, args.runs, args.concurrency) / n
    consistency_us = await _measure(one_consistency, args.runs, args.concurrency) / n
    return consistency_us, http_us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zones", type=int, default=3)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with h.nginx(args.zones) as web:
        consistency_us, http_us = asyncio.run(_bench(web, args))
    print(
        f"load: {args.runs} runs over {args.zones} zones, concurrency {args.concurrency}; load average {h.load_average()}"
    )
    print(
        f"cross_zone: consistency {consistency_us:.0f} µs CPU per zone vs http {http_us:.0f} µs per probe "
        f"→ ratio {consistency_us / http_us:.2f}×"
    )


if __name__ == "__main__":
    main()
