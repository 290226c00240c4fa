"""Resource faults: burn CPU, hog memory, fill a disk — in a process of their own that ends by itself.

The burner (``burn.py``) exits at the lease's deadline whatever happens to the runner; a revert
terminates it earlier and removes what it wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import psutil
from pydantic import BaseModel

from livesite.chaos.faults.base import FaultError, FaultKind, Info, Target
from livesite.chaos.spec import StressFault


async def resolve(spec: BaseModel) -> Sequence[Target]:
    assert isinstance(spec, StressFault)
    where = f" in {spec.directory}" if spec.directory else ""
    what = f"{spec.cores:g} cores" if spec.resource == "cpu" else f"{spec.megabytes} MB{where}"
    return [
        Target(
            resource=f"stress:{spec.resource}:{uuid.uuid4().hex[:8]}", description=f"{spec.resource} {what}"
        )
    ]


def prepare(spec: BaseModel, target: Target, token: str) -> Info:
    assert isinstance(spec, StressFault)
    path = spec.directory / f"livesite-chaos-{token}.fill" if spec.directory is not None else None
    return {"token": token, "path": str(path) if path else None}


async def inject(spec: BaseModel, target: Target, ttl: float, info: Info) -> None:
    assert isinstance(spec, StressFault)
    until = time.time() + ttl
    args = [sys.executable, "-m", "livesite.chaos.faults.burn", spec.resource, "--until", f"{until:.3f}"]
    args += ["--token", str(info["token"])]  # how a revert in another process finds the burner
    if spec.resource == "cpu":
        args += ["--cores", str(spec.cores)]
    else:
        args += ["--megabytes", str(spec.megabytes)]
    if spec.resource == "disk":
        assert spec.directory is not None
        if not await asyncio.to_thread(spec.directory.is_dir):
            raise FaultError(f"disk fault: {spec.directory} is not a directory")
        args += ["--path", str(info["path"]), "--keep-free", str(spec.keep_free_megabytes)]
    await asyncio.create_subprocess_exec(*args, start_new_session=True)


async def revert(spec: BaseModel, target: Target, info: Info) -> None:
    token, path = str(info.get("token", "")), info.get("path")
    for process in await asyncio.to_thread(_burners, token):
        with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # the burner and its cpu workers
            await asyncio.to_thread(_wait_gone, process)
    if isinstance(path, str):
        await asyncio.to_thread(Path(path).unlink, missing_ok=True)


def _burners(token: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = process.info.get("cmdline") or []
        if "livesite.chaos.faults.burn" in command and token in command:
            found.append(process)
    return found


def _wait_gone(process: psutil.Process) -> None:
    try:
        process.wait(timeout=5)
    except psutil.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


KIND = FaultKind(resolve=resolve, inject=inject, revert=revert, prepare=prepare)
