"""What one stored Result costs in SQLite: bytes on disk and CPU per row.

Writes N Results shaped like a typical HTTP check of the demo (ok, five assertions, one attempt,
phases, a revision, the http observation the http kind writes) through ``SqliteStore.add_results`` in batches of 500, as ``BatchWriter`` does,
then closes the store (checkpointing the WAL) and divides the file size by N. There is no peer here:
blackbox_exporter stores nothing and Prometheus keeps samples, not records. The figure sizes
``raw_retention`` (docs/configuration.md).

Last line: ``store_cost: N rows, X bytes per row on disk, Y µs CPU per row (record JSON Z bytes)``.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from livesite.results import AssertionOutcome, Attempt, HttpObservation, Phases, Result, Status
from livesite.store import SqliteStore

BATCH = 500


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def typical(i: int, started: datetime) -> Result:
    duration = 0.0012828019998778473 + i * 1e-9
    return Result(
        check=f"catalog-api-{i % 500}",
        kind="http",
        zone=("zone-a", "zone-b")[i % 2],
        revision="v1",
        started_at=started,
        duration_seconds=duration,
        status=Status.ok,
        phases=Phases(resolve=8.3e-6, connect=0.000467646, processing=0.000627992, transfer=0.000116441),
        assertions=[
            AssertionOutcome(expr="status == 200", observed="200", passed=True),
            AssertionOutcome(expr="len(json) >= 3", observed="6", passed=True),
            AssertionOutcome(expr="json[0].price_cents > 0", observed="8900", passed=True),
            AssertionOutcome(
                expr="header.Cache-Control contains public", observed="public, max-age=30", passed=True
            ),
            AssertionOutcome(expr="latency < 300ms", observed="1.3ms", passed=True, budget=True),
        ],
        attempts=[Attempt(number=1, started_at=started, duration_seconds=duration)],
        target="http://127.0.0.1:36077/api/products",
        observation=HttpObservation(
            status_code=200, content_length=690, body_bytes=690, http_version="1.1", ip_protocol=4
        ),
    )


async def write(path: Path, results: list[Result]) -> float:
    """Store the Results as BatchWriter would; the CPU seconds it took, closing included."""
    store = await SqliteStore.open(path)
    before = _cpu()
    for start in range(0, len(results), BATCH):
        await store.add_results(results[start : start + BATCH])
    await store.close()
    return _cpu() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    results = [typical(i, t0 + timedelta(milliseconds=i)) for i in range(rows)]
    with tempfile.TemporaryDirectory() as tmp:
        cpu = asyncio.run(write(Path(tmp) / "results.db", results))
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    record = len(results[0].model_dump_json(exclude_defaults=True))
    full = len(results[0].model_dump_json())
    print(f"record JSON: {record} bytes stored (all fields written out: {full})")
    print(
        f"store_cost: {rows:,} rows, {size / rows:,.0f} bytes per row on disk, "
        f"{cpu / rows * 1e6:.1f} µs CPU per row (record JSON {record} bytes)"
    )


if __name__ == "__main__":
    main()
