"""The shipped analysis examples run and say what docs/analysis.md says they say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cli_runner import livesite

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_the_router_example_fails_a_bad_canary_and_passes_a_healthy_one() -> None:
    script = str(EXAMPLES / "judge_a_canary.py")
    bad = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1, bad.stderr
    assert "FAIL: canary 18/6000" in bad.stdout and "FAIL: the canary shifted +19" in bad.stdout
    assert "PASS: error_rate is 0.300%" in bad.stdout  # under the 1% threshold, caught by the rate test
    healthy = subprocess.run(
        [sys.executable, script, "--healthy"], capture_output=True, text=True, timeout=120
    )
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "FAIL" not in healthy.stdout


def test_the_exported_samples_fail_the_canary() -> None:
    folder = EXAMPLES / "analysis"
    latency = livesite(
        "analyze",
        "--baseline",
        str(folder / "baseline-latency.txt"),
        "--canary",
        str(folder / "canary-latency.txt"),
    )
    assert latency.returncode == 1, latency.stdout + latency.stderr
    errors = livesite(
        "analyze",
        "--baseline",
        str(folder / "baseline-errors.csv"),
        "--canary",
        str(folder / "canary-errors.csv"),
    )
    assert errors.returncode == 1, errors.stdout + errors.stderr
    assert "rate ratio" in errors.stdout
