"""bench/fault_proxy.py still runs end to end (tiny load); no timing is asserted here."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[4] / "bench" / "fault_proxy.py"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.skipif(
    not all(shutil.which(b) or Path("/usr/sbin", b).exists() for b in ("nginx", "haproxy", "wrk")),
    reason="needs nginx, haproxy and wrk",
)
def test_the_fault_proxy_benchmark_prints_its_ratio_line() -> None:
    args = [
        "--seconds",
        "1",
        "--rounds",
        "1",
        "--connections",
        "4",
        "--samples",
        "3",
        "--bandwidth-seconds",
        "0.2",
    ]
    done = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^fault_proxy: keep-alive [\d.]+× HAProxy's req/s", done.stdout, re.M), done.stdout
    assert done.stdout.count("latency toxic: asked") == 3 and done.stdout.count("bandwidth toxic: asked") == 3
