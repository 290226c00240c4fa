"""Run the `livesite` command as users do: a real process, its exit code and its output."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

LIVESITE = [sys.executable, "-m", "livesite.cli.main"]


def livesite(*args: str, timeout: float = 60, **options: Any) -> subprocess.CompletedProcess[str]:
    """Run to completion; stdout and stderr captured as text."""
    return subprocess.run([*LIVESITE, *args], capture_output=True, text=True, timeout=timeout, **options)


def start_livesite(*args: str, **options: Any) -> subprocess.Popen[str]:
    """Start in the background (pass stdout/stderr as the test needs them); output is text."""
    return subprocess.Popen([*LIVESITE, *args], text=True, **options)
