"""Run the `livesite` command as users do: a real process, its exit code and its output.

`livesite_on_terminal` runs it on a real pseudo-terminal, so the command sees a TTY (rich draws
tables and colours) exactly as in a person's shell.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from typing import Any

LIVESITE = [sys.executable, "-m", "livesite.cli.main"]


def livesite(*args: str, timeout: float = 60, **options: Any) -> subprocess.CompletedProcess[str]:
    """Run to completion; stdout and stderr captured as text."""
    return subprocess.run([*LIVESITE, *args], capture_output=True, text=True, timeout=timeout, **options)


def start_livesite(*args: str, **options: Any) -> subprocess.Popen[str]:
    """Start in the background (pass stdout/stderr as the test needs them); output is text."""
    return subprocess.Popen([*LIVESITE, *args], text=True, **options)


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    output: str  # stdout and stderr as the terminal received them, escape sequences included


def livesite_on_terminal(
    *args: str, columns: int = 200, timeout: float = 60, env: dict[str, str] | None = None
) -> TerminalRun:
    """Run with stdout and stderr on a new pseudo-terminal `columns` wide; read until the command exits."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    environment = {k: v for k, v in (env or os.environ).items() if k not in ("COLUMNS", "LINES")}
    environment["TERM"] = "xterm-256color"
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE"):
        environment.pop(name, None)  # the terminal itself decides, as in a person's shell
    proc = subprocess.Popen(
        [*LIVESITE, *args], stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary, env=environment
    )
    os.close(secondary)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                proc.kill()
                raise TimeoutError(f"livesite {' '.join(args)} did not finish within {timeout} s")
            if not select.select([primary], [], [], 0.5)[0]:
                continue
            try:
                chunk = os.read(primary, 65536)
            except OSError as e:  # EIO: every writer has closed the terminal, the command is done
                if e.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            chunks.append(chunk)
        returncode = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(primary)
    return TerminalRun(returncode, b"".join(chunks).decode("utf-8", errors="replace"))
