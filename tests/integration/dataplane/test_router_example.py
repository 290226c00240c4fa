"""examples/router_canary.py runs as documented and finds no user who went back to stable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.integration


def test_the_router_canary_example_walks_the_weights_and_nobody_flips_back() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "router_canary.py"),
            "--users",
            "40",
            "--steps",
            "0,20,60,100",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "fake user pinned to the canary at weight 0: served by v2" in done.stdout
    assert "canary weight   0%:    0 of 40 users" in done.stdout
    assert "canary weight 100%:   40 of 40 users" in done.stdout
    assert "users who went back to stable: 0" in done.stdout
