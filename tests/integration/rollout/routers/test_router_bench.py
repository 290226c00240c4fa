"""bench/router_apply.py still runs (a tiny load; no timing is asserted, timing belongs in bench/)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import _require

BENCH = Path(__file__).resolve().parents[4] / "bench" / "router_apply.py"


def test_the_router_benchmark_prints_its_ratio_line() -> None:
    for binary, package in (("haproxy", "haproxy"), ("nginx", "nginx-light"), ("socat", "socat")):
        _require(binary, package)
    done = subprocess.run(
        [sys.executable, str(BENCH), "--changes", "10"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(
        r"^router_apply: haproxy livesite [\d.]+ ms/change vs socat [\d.]+ ms/change → ratio [\d.]+×; "
        r"nginx reload-to-verified \d+ ms$",
        done.stdout,
        re.M,
    ), done.stdout
