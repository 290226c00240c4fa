"""Process faults: kill (SIGTERM, SIGKILL, SIGINT) or pause (SIGSTOP, reverted with SIGCONT).

Targets are only processes that match every condition of the selector, and never this process or
its ancestors. A process is named by pid *and* start time, and checked again just before the signal,
so a pid reused by another program meanwhile is never touched.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import re
import signal
from collections.abc import Sequence

import psutil
from pydantic import BaseModel

from livesite.chaos.faults.base import FaultError, FaultKind, Info, Target
from livesite.chaos.spec import ProcessFault, Select


def _ours() -> set[int]:
    me = psutil.Process()
    return {me.pid, *(p.pid for p in me.parents())}


def _demo_pids(select: Select) -> set[int] | None:
    if select.demo is None:
        return None
    try:
        state = json.loads(select.demo.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise FaultError(f"cannot read the demo state {select.demo}: {e}") from None
    pattern = select.component or "*"
    return {
        int(c["pid"])
        for c in state.get("components", [])
        if isinstance(c, dict) and c.get("pid") and fnmatch.fnmatchcase(str(c.get("name", "")), pattern)
    }


def _listening(port: int) -> set[int]:
    return {
        c.pid
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid
    }


def matches(select: Select, process: psutil.Process) -> bool:
    """Whether ``process`` is one ``select`` names (every condition holds)."""
    try:
        if select.pid_file is not None:
            try:
                if int(select.pid_file.read_text().strip()) != process.pid:
                    return False
            except (OSError, ValueError):
                return False
        if select.pattern is not None and not re.search(select.pattern, " ".join(process.cmdline())):
            return False
        if select.port is not None and process.pid not in _listening(select.port):
            return False
        demo = _demo_pids(select)
        return demo is None or process.pid in demo
    except psutil.Error:
        return False


def _candidates(select: Select) -> list[psutil.Process]:
    ours = _ours()
    pids: set[int] | None = None
    if select.pid_file is not None:
        try:
            pids = {int(select.pid_file.read_text().strip())}
        except (OSError, ValueError) as e:
            raise FaultError(f"pid file {select.pid_file}: {e}") from None
    if select.port is not None:
        found = _listening(select.port)
        pids = found if pids is None else pids & found
    demo = _demo_pids(select)
    if demo is not None:
        pids = demo if pids is None else pids & demo
    processes = (
        [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)]
        if pids is not None
        else list(psutil.process_iter())
    )
    return sorted((p for p in processes if p.pid not in ours and matches(select, p)), key=lambda p: p.pid)


def _target(process: psutil.Process) -> Target:
    started = process.create_time()
    command = " ".join(process.cmdline())[:200]
    return Target(
        resource=f"process:{process.pid}:{started:.3f}",
        description=f"pid {process.pid} ({command})",
        data={"pid": process.pid, "started": started},
    )


async def resolve(spec: BaseModel) -> Sequence[Target]:
    assert isinstance(spec, ProcessFault)
    found = await asyncio.to_thread(_candidates, spec.select)
    return [_target(p) for p in found]


def _same(spec: ProcessFault, target: Target) -> psutil.Process | None:
    """The target process if it is still the one resolved and still matches the selector."""
    try:
        process = psutil.Process(int(target.data["pid"]))  # type: ignore[arg-type]
        if abs(process.create_time() - float(target.data["started"])) > 0.01:  # type: ignore[arg-type]
            return None
        return process if matches(spec.select, process) else None
    except (psutil.Error, KeyError, TypeError, ValueError):
        return None


async def inject(spec: BaseModel, target: Target, ttl: float, info: Info) -> None:
    assert isinstance(spec, ProcessFault)
    process = await asyncio.to_thread(_same, spec, target)
    if process is None:
        raise FaultError(f"{target.description} is gone or no longer matches the selector: not touched")
    signum = spec.signum if spec.action == "kill" else signal.SIGSTOP
    try:
        os.kill(process.pid, signum)
    except ProcessLookupError:
        raise FaultError(f"{target.description} exited before the signal") from None


async def revert(spec: BaseModel, target: Target, info: Info) -> None:
    assert isinstance(spec, ProcessFault)
    if spec.action != "pause":
        return  # a killed process is not revived by its fault; a rollback step may restart it
    try:
        process = psutil.Process(int(target.data["pid"]))  # type: ignore[arg-type]
        if abs(process.create_time() - float(target.data["started"])) > 0.01:  # type: ignore[arg-type]
            return
        os.kill(process.pid, signal.SIGCONT)
    except (psutil.NoSuchProcess, ProcessLookupError):
        return


KIND = FaultKind(resolve=resolve, inject=inject, revert=revert)
