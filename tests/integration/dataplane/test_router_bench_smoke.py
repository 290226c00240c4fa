"""bench/router.py still runs: it starts nginx, HAProxy and the router, drives wrk and prints its ratio line.

No timing is asserted (timing belongs in bench/); this only catches a benchmark broken by a change.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.skipif(
    not all(shutil.which(b) or Path("/usr/sbin", b).exists() for b in ("wrk", "haproxy", "nginx")),
    reason="needs wrk, haproxy and nginx (make system-deps)",
)
def test_the_router_benchmark_runs_and_prints_its_ratio() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "router.py"),
            "--duration",
            "1",
            "--single-duration",
            "1",
            "--rounds",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert re.match(
        r"router: livesite [\d,]+ req/s vs haproxy [\d,]+ req/s keep-alive → ratio [\d.]+×", last
    ), last
    assert "errors" not in done.stdout


def test_the_router_cost_benchmark_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "router_cost.py"), "--requests", "2000"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.match(r"router_cost: [\d.]+ µs of Python per request", done.stdout.strip().splitlines()[-1])
