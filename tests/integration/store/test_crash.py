"""A monitor killed with SIGKILL loses at most what its BatchWriter had not flushed yet.

The child writes Results with sequential ids through a BatchWriter and reports, after every few
puts, how many the writer has acknowledged as written. We kill it mid-stream and check the store:
every acknowledged Result is there, and what is there is a prefix with no holes.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from livesite.store import ResultQuery, open_store

CHILD = Path(__file__).with_name("crash_child.py")
FLUSHED_BEFORE_KILL = 3000
DEADLINE_SECONDS = 60.0


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.db'}"
    else:
        yield request.getfixturevalue("fresh_postgres_url")


def _read_reports_until_killed(child: subprocess.Popen[str]) -> list[tuple[int, int, int]]:
    """Read ``put flushed pending`` lines; SIGKILL the child once enough results are flushed."""
    assert child.stdout is not None
    reports: list[tuple[int, int, int]] = []
    deadline = time.monotonic() + DEADLINE_SECONDS
    buffered = ""
    killed = False
    while True:
        ready, _, _ = select.select([child.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            child.kill()
            pytest.fail(f"the child reported only {reports[-1:]} within {DEADLINE_SECONDS}s")
        chunk = os.read(child.stdout.fileno(), 65536).decode()
        if not chunk:  # EOF: the child is gone and every line it wrote has been read
            break
        buffered += chunk
        *lines, buffered = buffered.split("\n")
        for line in lines:
            put, flushed, pending = map(int, line.split())
            reports.append((put, flushed, pending))
        if not killed and reports and reports[-1][1] >= FLUSHED_BEFORE_KILL:
            child.send_signal(signal.SIGKILL)
            killed = True
    assert killed, f"the child exited by itself (code {child.wait()})"
    return reports


async def _stored_ids(url: str) -> list[int]:
    store = await open_store(url)
    try:
        return [int(r.id) for r in await store.results(ResultQuery(check="crash", limit=10**9))]
    finally:
        await store.close()


def test_sigkill_loses_only_what_the_batch_writer_had_not_flushed(store_url: str, tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        reports = _read_reports_until_killed(child)
    finally:
        child.kill()
        assert child.stderr is not None
        errors = child.stderr.read()
        child.stderr.close()
        if child.stdout is not None:
            child.stdout.close()
        child.wait()
    assert child.returncode == -signal.SIGKILL, errors

    put, flushed, pending = reports[-1]
    stored = asyncio.run(_stored_ids(store_url))
    assert len(stored) >= flushed, "a Result the writer had acknowledged was lost"
    assert sorted(stored) == list(range(len(stored))), "what survives must be a prefix with no holes"
    # Lost: only what was still buffered (at most the last report's pending, plus puts after it).
    assert put - len(stored) <= pending
