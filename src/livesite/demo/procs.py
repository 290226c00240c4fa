"""Processes of the demo: bind, spawn detached, recognise as ours, wait until ready, stop.

A component is spawned through a tiny launcher so that it is not our child: it survives the CLI that started
it and never lingers as our zombie. Whether a pid is still ours is decided by its create time and its command
line (module and config file), so `down` never signals a pid that was reused by someone else.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
import psutil
from pydantic import BaseModel

from livesite.demo.errors import DemoError
from livesite.demo.state import Component

POLL_SECONDS = 0.03

# runs with `python -S`: only the stdlib, starts in a few milliseconds
_LAUNCHER = """import subprocess, sys
fd = int(sys.argv[1])
with open(sys.argv[2], "ab") as log:
    p = subprocess.Popen(sys.argv[3:], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         pass_fds=(fd,), start_new_session=True)
print(p.pid, flush=True)
p.returncode = 0  # detached on purpose: keeps Popen.__del__ from warning
"""


class Spawned(BaseModel):
    pid: int
    create_time: float


def bind(port: int = 0) -> socket.socket:
    """A TCP socket bound on 127.0.0.1 (port 0 = any free port), ready to hand to a child.

    Raises:
        DemoError: `port` is taken.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # a killed instance can leave orphaned connections (FIN-WAIT) on its port that block a plain rebind;
    # SO_REUSEPORT lets its successor (same user) bind anyway, while a stranger's listener still blocks us
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise DemoError(
                f"port {port} on 127.0.0.1 is taken by another process",
                hint=f"find it with `lsof -i :{port}`, or restart the whole demo to get fresh ports",
            ) from exc
        raise DemoError(f"cannot bind 127.0.0.1:{port}: {exc}") from exc
    sock.listen(128)  # connections queue up until the child accepts: early health polls wait, not fail
    return sock


def component_argv(kind: str, config_path: Path, fd: int) -> list[str]:
    return [sys.executable, "-m", f"livesite.demo.{kind}", "--config", str(config_path), "--fd", str(fd)]


async def spawn(argv: Sequence[str], log_path: Path, sock: socket.socket) -> Spawned:
    """Start `argv` detached (new session, not our child), output to `log_path`, inheriting `sock`.

    Raises:
        DemoError: the launcher failed.
    """
    fd = sock.fileno()
    launcher = await asyncio.create_subprocess_exec(
        sys.executable,
        "-S",
        "-c",
        _LAUNCHER,
        str(fd),
        str(log_path),
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        pass_fds=(fd,),
    )
    out, err = await launcher.communicate()
    if launcher.returncode != 0 or not out.strip().isdigit():
        raise DemoError(f"could not start {' '.join(argv)}: {err.decode(errors='replace').strip()}")
    pid = int(out)
    try:
        return Spawned(pid=pid, create_time=psutil.Process(pid).create_time())
    except psutil.NoSuchProcess:
        return Spawned(pid=pid, create_time=0.0)  # died at once; readiness will report its log


def is_ours(component: Component) -> bool:
    """True when `component.pid` is alive and is still the process we started."""
    try:
        proc = psutil.Process(component.pid)
        if abs(proc.create_time() - component.create_time) > 0.05 or proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return f"livesite.demo.{component.kind}" in cmdline and str(component.config_path) in cmdline


def is_running(component: Component) -> bool:
    """True while any thread of the process we started still exists (its sockets may still be open).

    Unlike `is_ours` this ignores the command line: an exiting process loses its command line before it
    closes its files, and a zombie group leader can still have threads tearing down its sockets.
    """
    try:
        proc = psutil.Process(component.pid)
        if abs(proc.create_time() - component.create_time) > 0.05:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE or proc.num_threads() > 1
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


async def wait_ready(client: httpx.AsyncClient, component: Component, deadline: float) -> None:
    """Poll the component's health URL until it answers 200 or the loop time passes `deadline`.

    Raises:
        DemoError: the process died, or it did not become healthy in time; the message holds its log tail.
    """
    loop = asyncio.get_running_loop()
    url = component.url + component.health_path
    last = "no answer yet"
    while True:
        if not is_ours(component):
            raise DemoError(
                f"{component.name} exited while starting; last lines of {component.log_path}:\n"
                f"{log_tail(component.log_path)}",
                hint="fix the cause above and run `livesite demo up` again",
            )
        try:
            reply = await client.get(url, timeout=1.0)
            if reply.status_code == 200:
                return
            last = f"HTTP {reply.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        if loop.time() > deadline:
            raise DemoError(
                f"{component.name} did not become healthy at {url} in time (last: {last}); "
                f"last lines of {component.log_path}:\n{log_tail(component.log_path)}",
                hint="the machine may be overloaded; run `livesite demo up` again",
            )
        await asyncio.sleep(POLL_SECONDS)


async def _gone(components: Sequence[Component], deadline: float) -> list[Component]:
    """Poll until every component is gone or the deadline passes; return those still alive."""
    loop = asyncio.get_running_loop()
    left = [c for c in components if is_running(c)]
    while left and loop.time() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        left = [c for c in left if is_running(c)]
    return left


def _signal(component: Component, signum: int) -> bool:
    if not is_ours(component):  # checked right before the signal: never hit a reused pid
        return False
    try:
        os.kill(component.pid, signum)
    except ProcessLookupError:
        return False
    return True


async def stop(components: Sequence[Component], grace_seconds: float = 5.0) -> list[str]:
    """Stop those components that are still ours: SIGTERM, then SIGKILL after `grace_seconds`.

    Returns the names of the components that were signalled.

    Raises:
        DemoError: a process survived SIGKILL.
    """
    loop = asyncio.get_running_loop()
    signalled = [c for c in components if _signal(c, signal.SIGTERM)]
    left = await _gone(signalled, loop.time() + grace_seconds)
    for component in left:
        _signal(component, signal.SIGKILL)
    left = await _gone(left, loop.time() + grace_seconds)
    if left:
        pids = ", ".join(f"{c.name} (pid {c.pid})" for c in left)
        raise DemoError(f"could not stop {pids}", hint="kill them by hand")
    return [c.name for c in signalled]


async def kill(component: Component, signum: int = signal.SIGKILL, timeout_seconds: float = 5.0) -> bool:
    """Send `signum` to one component if it is ours and wait until it is gone. False if it was not running."""
    if not _signal(component, signum):
        return False
    left = await _gone([component], asyncio.get_running_loop().time() + timeout_seconds)
    if left:
        raise DemoError(f"{component.name} (pid {component.pid}) survived signal {signum}")
    return True
