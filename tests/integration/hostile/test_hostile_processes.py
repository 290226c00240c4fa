"""`livesite check` and `livesite monitor` as real processes against hostile targets.

What a user sees: memory that stays small, a canary check that keeps its schedule next to checks
on targets that flood, and a prompt exit on SIGTERM. The targets run in this process on a thread of
their own (``TargetServer.in_thread``) and record when each request arrived, so the canary's
schedule is measured from the outside. Tolerances are generous (a loaded 2-core machine must not
make these flaky); bench/ measures the fine grain.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from hostile_kit import (
    CANARY_RUNS,
    MAX_RSS_BYTES,
    SIGTERM_SECONDS,
    Monitor,
    assert_on_schedule,
    canary,
    hostile_checks,
    peak_rss_bytes,
    poll,
    results_by_status,
    scrape,
    wait_for_canary,
    write_config,
)
from hostile_kit import monitor as monitor  # the fixture

from cli_runner import LIVESITE
from livesite.testing.target import TargetServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def hostile() -> Iterator[TargetServer]:
    with TargetServer().in_thread() as server:
        yield server


# ------------------------------------------------------------------------------------------------ check


def test_livesite_check_against_header_floods_stays_small_in_memory(
    hostile: TargetServer, tmp_path: Path
) -> None:
    floods = [
        {"name": f"{name}-{i}", "kind": "http", "url": hostile.url(path), "timeout": "3s"}
        for i in range(8)
        for name, path in (
            ("flood", "/header-flood"),
            ("value", "/endless-value"),
            ("body", "/endless-body"),
            ("hints", "/early-hints"),
        )
    ]
    slow = {"name": "slowloris", "kind": "http", "url": hostile.url("/slowloris"), "timeout": "3s"}
    config = write_config(tmp_path, [*floods, slow])  # the slow one keeps the process up for 3 s
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([*LIVESITE, "check", str(config)], stdout=stdout, stderr=stderr)
        # Sampled, not ru_maxrss: a forked child's ru_maxrss starts at the forking pytest's own RSS
        # (Linux keeps the high-water mark across exec), which a long test session pushes past the bound.
        peak = 0
        child = psutil.Process(proc.pid)
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, child.memory_info().rss)
            time.sleep(0.02)
    assert proc.returncode == 1, out.read_text() + err.read_text()
    assert "Traceback" not in err.read_text() and "MemoryError" not in err.read_text()
    assert 0 < peak < MAX_RSS_BYTES


# ------------------------------------------------------------------------------------------------ monitor


def test_the_monitor_keeps_a_canary_on_schedule_next_to_hostile_checks_and_stops_on_sigterm(
    hostile: TargetServer, monitor: Callable[..., Monitor]
) -> None:
    port = hostile.port
    m = monitor([canary("canary", f"http://localhost:{port}/json?canary=canary"), *hostile_checks(hostile)])
    poll(m.ready, 30, "the monitor serving /metrics")
    arrivals = wait_for_canary(hostile, "canary", m)
    assert_on_schedule(arrivals)

    metrics = scrape(m.listen)  # /metrics answers while the floods go on
    canary_results = results_by_status(metrics, "canary")
    assert canary_results.get("ok", 0) >= CANARY_RUNS - 1, canary_results
    assert {status: n for status, n in canary_results.items() if status != "ok" and n} == {}
    assert sum(results_by_status(metrics, "flood-headers").values()) >= 3  # the floods really ran
    assert peak_rss_bytes(m.proc.pid) < MAX_RSS_BYTES

    seconds = m.sigterm()
    log = m.log.read_text()
    assert m.proc.returncode == 0, log
    assert "Traceback" not in log and "MemoryError" not in log
    assert seconds <= SIGTERM_SECONDS, f"exited {seconds:.2f} s after SIGTERM"


def test_the_monitor_stops_on_sigterm_in_the_middle_of_slow_hostile_answers(
    hostile: TargetServer, monitor: Callable[..., Monitor]
) -> None:
    slow = [c for c in hostile_checks(hostile) if c["name"] in ("slowloris", "trickle", "tls-stall")]
    m = monitor([{**c, "timeout": "30s", "interval": "60s"} for c in slow])
    poll(m.ready, 30, "the monitor serving /metrics")
    poll(
        lambda: sum(1 for r in list(hostile.received) if r.path in ("/slowloris", "/trickle")) >= 2,
        30,
        "the slow checks under way",
    )
    seconds = m.sigterm()
    assert m.proc.returncode == 0, m.log.read_text()
    assert seconds <= SIGTERM_SECONDS, f"exited {seconds:.2f} s after SIGTERM"
