"""Start, stop and inspect the whole demo production.

`up` writes the state file as soon as the pids are known (before waiting for readiness), so whatever happens
next, `down` can find and stop every process that `up` started, and nothing else.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from livesite.demo import procs, topology
from livesite.demo.db import ShopDb
from livesite.demo.errors import DemoError, DemoNotRunning, DemoRunning
from livesite.demo.state import (
    Component,
    ComponentStatus,
    DemoOptions,
    DemoState,
    DemoStatus,
    read_state,
    state_dir_option,
    state_path,
    write_private,
    write_state,
)

READY_SECONDS = 30.0
DB_FILE = "shop.db"


@contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """Hold the state directory's lock (one `up` or `deploy` at a time).

    Raises:
        DemoRunning: another livesite process holds it.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise DemoRunning(
                f"another livesite command is changing the demo in {state_dir} right now",
                hint="wait for it to finish, then try again",
            ) from exc
        yield
    finally:
        os.close(fd)


def _clear_stale(state_dir: Path) -> list[str]:
    """Refuse when a demo runs here; clean up after one whose processes are all gone."""
    old = read_state(state_dir)
    if old is None:
        return []
    alive = [c for c in old.components if procs.is_ours(c)]
    if alive:
        raise DemoRunning(
            f"a demo is already running in {state_dir} (started {old.started_at:%Y-%m-%d %H:%M:%S} UTC, "
            f"{len(alive)} of {len(old.components)} processes alive)",
            hint=f"stop it with `livesite demo down{state_dir_option(state_dir)}` or pick another --state-dir",
        )
    state_path(state_dir).unlink(missing_ok=True)
    return [
        f"found a stale state file from a run started {old.started_at:%Y-%m-%d %H:%M:%S} UTC whose "
        f"{len(old.components)} processes are all gone; cleaned it up"
    ]


def _fresh_db(state_dir: Path) -> Path:
    db_path = state_dir / DB_FILE
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    ShopDb(db_path).create()
    return db_path


def _prepare(options: DemoOptions, admin_token: str) -> tuple[list[str], Path, list[topology.Planned]]:
    """Blocking part of `up`: refuse or clean up an old run, fresh dirs and database, sockets and configs."""
    state_dir = options.state_dir
    notices = _clear_stale(state_dir)
    for sub in ("run", "logs"):
        shutil.rmtree(state_dir / sub, ignore_errors=True)
        (state_dir / sub).mkdir(parents=True)
    db_path = _fresh_db(state_dir)
    planned = topology.plan(options, db_path, admin_token)
    for p in planned:
        write_private(p.component.config_path, p.settings.model_dump_json(indent=2))
    return notices, db_path, planned


async def up(options: DemoOptions) -> DemoState:
    """Start the demo production described by `options` and wait until every part is healthy.

    Returns the state that was also written to `options.state_dir/state.json`; `notices` says whether a stale
    state file was cleaned up.

    Raises:
        DemoRunning: a demo already runs in the state directory.
        DemoError: a process could not start or did not become healthy (everything started is stopped again).
    """
    state_dir = options.state_dir
    topology.check(options)
    # A new token per run: whoever can read this run's state file (its owner) may change the demo.
    admin_token = secrets.token_urlsafe(24)
    with state_lock(state_dir):
        notices, db_path, planned = await asyncio.to_thread(_prepare, options, admin_token)
        try:
            spawned = await asyncio.gather(
                *(
                    procs.spawn(
                        procs.component_argv(p.component.kind, p.component.config_path, p.sock.fileno()),
                        p.component.log_path,
                        p.sock,
                    )
                    for p in planned
                ),
                return_exceptions=True,
            )
        finally:
            for p in planned:
                p.sock.close()
        components: list[Component] = []
        for p, s in zip(planned, spawned, strict=True):
            if isinstance(s, procs.Spawned):
                components.append(p.component.model_copy(update={"pid": s.pid, "create_time": s.create_time}))
        state = DemoState(
            state_dir=state_dir,
            options=options,
            db_path=db_path,
            started_at=datetime.now(UTC),
            components=components,
            notices=notices,
            admin_token=admin_token,
        )
        write_state(state)
        failure = next((s for s in spawned if isinstance(s, BaseException)), None)
        try:
            if failure is not None:
                raise failure
            await _await_ready(state)
        except BaseException:
            await procs.stop(state.components)
            state_path(state_dir).unlink(missing_ok=True)
            raise
        return state


async def _await_ready(state: DemoState) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_SECONDS
    async with httpx.AsyncClient() as client:
        await asyncio.gather(*(procs.wait_ready(client, c, deadline) for c in state.components))
        for zone in state.options.zones:  # end to end: edge -> front -> shop
            url = f"{state.zone_url(zone)}/health"
            reply = await client.get(url, timeout=5.0)
            if reply.status_code != 200:
                raise DemoError(f"{zone} is up but {url} answers {reply.status_code}: {reply.text[:200]}")


async def down(state_dir: Path) -> list[str]:
    """Stop every process of the demo in `state_dir` that is still ours, then remove its state file.

    Returns the names of the components that were stopped (those already dead are not listed). Logs stay in
    the state directory. Without a state file there is nothing to stop and the list is empty.

    Raises:
        DemoError: a process survived SIGKILL (the state file is kept so `down` can be retried).
    """
    state_dir, state = await asyncio.to_thread(_load, state_dir)
    if state is None:
        return []
    stopped = await procs.stop(state.components)
    state_path(state_dir).unlink(missing_ok=True)
    shutil.rmtree(state_dir / "run", ignore_errors=True)
    return stopped


def _load(state_dir: Path) -> tuple[Path, DemoState | None]:
    state_dir = state_dir.expanduser().absolute()
    return state_dir, read_state(state_dir)


def current(state_dir: Path) -> DemoState:
    """The state of the demo running in `state_dir`.

    Raises:
        DemoNotRunning: there is no state file.
    """
    state_dir, state = _load(state_dir)
    if state is None:
        raise DemoNotRunning(
            f"no demo is running in {state_dir}",
            hint=f"start one with `livesite demo up{state_dir_option(state_dir)}`",
        )
    return state


async def _probe(client: httpx.AsyncClient, component: Component) -> ComponentStatus:
    alive = procs.is_ours(component)
    healthy, detail = False, "not running"
    if alive:
        try:
            reply = await client.get(component.url + component.health_path, timeout=2.0)
            healthy = reply.status_code == 200
            detail = "healthy" if healthy else f"HTTP {reply.status_code}"
        except httpx.HTTPError as exc:
            detail = f"unreachable ({type(exc).__name__})"
    return ComponentStatus(
        name=component.name,
        kind=component.kind,
        zone=component.zone,
        url=component.url,
        pid=component.pid,
        alive=alive,
        healthy=healthy,
        detail=detail,
        revision=component.revision,
    )


async def status(state_dir: Path) -> DemoStatus:
    """Probe every component of the demo in `state_dir`: is its process ours and alive, is it healthy?"""
    state_dir, state = await asyncio.to_thread(_load, state_dir)
    if state is None:
        return DemoStatus(state_dir=state_dir, running=False)
    async with httpx.AsyncClient() as client:
        rows = await asyncio.gather(*(_probe(client, c) for c in state.components))
    return DemoStatus(state_dir=state_dir, running=any(r.alive for r in rows), components=list(rows))
