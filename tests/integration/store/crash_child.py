"""Child process for the crash test: writes Results through a BatchWriter until it is killed.

Usage: ``python crash_child.py STORE_URL``. After every few puts it prints ``put flushed pending``,
so the parent knows what the writer had acknowledged as durable before the SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

from livesite.results import Result, Status
from livesite.store import BatchWriter, open_store

PUTS_PER_REPORT = 50
T0 = datetime(2024, 1, 1, tzinfo=UTC)


async def main(url: str) -> None:
    store = await open_store(url)
    writer = BatchWriter(store, flush_interval_seconds=0.05, max_batch=200)
    writer.start()
    put = 0
    while True:
        for _ in range(PUTS_PER_REPORT):
            writer.put(
                Result(
                    id=f"{put:09d}",
                    check="crash",
                    kind="http",
                    zone="a",
                    started_at=T0 + timedelta(milliseconds=put),
                    duration_seconds=0.01,
                    status=Status.ok,
                )
            )
            put += 1
        print(put, writer.flushed, writer.pending, flush=True)
        await asyncio.sleep(0.005)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
