"""The nginx router: weights and routes are a generated include file plus a graceful reload.

A change renders the router's include file (:mod:`livesite.rollout.routers.nginx_config`) with the
next generation, checks the whole config with ``nginx -t`` (a broken one is put back and never
reaches the workers), signals ``nginx -s reload`` and then polls the state location until the workers
answer with the new generation. verify() compares three things: what the workers serve, the file on
disk, and what this router last asked for. Stats come from the JSON access log, read incrementally.
nginx has no drain beyond weight 0 (a reload already lets open requests finish), so it is not Drainable.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import httpx
import psutil
from pydantic import BaseModel, ValidationError

from livesite.rollout.routers.access_log import AccessLog
from livesite.rollout.routers.base import (
    Asked,
    BackendStats,
    Route,
    RouterError,
    RouterState,
    TlsContexts,
    check_routes,
    check_weights,
)
from livesite.rollout.routers.nginx_config import (
    NginxLayout,
    fingerprint_of,
    generation_of,
    render_include,
)


class Served(BaseModel):
    """The body of the state location: what the workers were loaded with."""

    generation: int
    fingerprint: str
    weights: dict[str, int]
    routes: list[Route]


class NginxRouter:
    """A :class:`~livesite.rollout.routers.base.Router` for an nginx whose http block includes our file."""

    def __init__(self, layout: NginxLayout, *, timeout_seconds: float = 5.0) -> None:
        self.layout = layout
        self.name = f"nginx ({layout.conf_path})"
        self.timeout_seconds = timeout_seconds
        self.asked = Asked()
        self.log = AccessLog(layout.access_log, layout.backends)
        self._tls = TlsContexts()
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ Router

    async def set_weights(self, weights: Mapping[str, int]) -> None:
        wanted = check_weights(self.name, weights, list(self.layout.backends))
        async with self._lock, self._file_lock():
            served = await self._served()
            await self._apply({**served.weights, **wanted}, served.routes, served.generation + 1)
            self.asked.weights.update(wanted)

    async def set_routes(self, routes: Sequence[Route]) -> None:
        wanted = check_routes(self.name, routes, list(self.layout.backends))
        async with self._lock, self._file_lock():
            served = await self._served()
            await self._apply(served.weights, wanted, served.generation + 1)
            self.asked.routes = wanted

    async def verify(self) -> RouterState:
        async with self._lock:
            served = await self._served()
            on_disk = await asyncio.to_thread(self._read_include)
        if fingerprint_of(on_disk) != served.fingerprint or generation_of(on_disk) != served.generation:
            raise RouterError(
                "mismatch",
                f"{self.layout.include_path} is not what the workers run (they run generation "
                f"{served.generation}, the file says {generation_of(on_disk)}"
                f"{', and was edited by hand' if generation_of(on_disk) == served.generation else ''})",
                router=self.name,
                hint="someone changed or reloaded nginx behind livesite's back; set the weights again",
            )
        state = RouterState(weights=served.weights, routes=served.routes, generation=str(served.generation))
        return self.asked.check(self.name, state)

    async def stats(self) -> dict[str, BackendStats]:
        try:
            return await asyncio.to_thread(self.log.read)
        except OSError as exc:
            raise RouterError(
                "unreachable", f"cannot read the access log {self.layout.access_log}: {exc}", router=self.name
            ) from exc

    # ------------------------------------------------------------------ the steps

    @contextlib.asynccontextmanager
    async def _file_lock(self) -> AsyncIterator[None]:
        """Serialise changes across processes too: two routers (two controllers, a CLI) reading the
        same generation would both write generation N+1."""
        path = self.layout.include_path.with_name(f".{self.layout.include_path.name}.lock")
        handle = await asyncio.to_thread(path.open, "a")
        try:
            await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
            yield
        finally:
            handle.close()  # closing releases the lock

    def _read_include(self) -> str:
        try:
            return self.layout.include_path.read_text()
        except OSError as exc:
            raise RouterError(
                "unreachable", f"cannot read {self.layout.include_path}: {exc.strerror}", router=self.name
            ) from exc

    async def _served(self) -> Served:
        """What the workers run, from the state location (a new connection each time, so a reloaded
        worker answers rather than an old one still holding a kept-alive connection)."""
        url = self.layout.state_url
        try:
            verify = self._tls.verify_for(url)
            async with httpx.AsyncClient(timeout=self.timeout_seconds, verify=verify) as client:
                answer = await client.get(url, headers={"Connection": "close"})
        except httpx.HTTPError as exc:
            raise RouterError(
                "unreachable",
                f"nginx did not answer {url}: {type(exc).__name__} {exc}",
                router=self.name,
                hint="is nginx running, and does its config serve $livesite_state at this URL?",
            ) from exc
        try:
            answer.raise_for_status()
            return Served.model_validate_json(answer.content)
        except (httpx.HTTPStatusError, ValidationError) as exc:
            raise RouterError(
                "mismatch",
                f"{url} answered {answer.status_code} without livesite's state: {answer.text[:200]!r}",
                router=self.name,
                hint="add `location = /-/livesite { return 200 $livesite_state; }` (docs/routers.md)",
            ) from exc

    async def _apply(self, weights: Mapping[str, int], routes: Sequence[Route], generation: int) -> None:
        for route in routes:
            if route.cookie is not None and "-" in route.cookie:
                raise RouterError(
                    "unsupported",
                    f"nginx cannot read cookie {route.cookie} (a '-' in its name)",
                    router=self.name,
                )
        text = render_include(self.layout, weights, routes, generation)
        path = self.layout.include_path
        previous = await asyncio.to_thread(self._read_include)
        await asyncio.to_thread(_write_atomically, path, text)
        try:
            await self._nginx("-t", "-q", kind="rejected", what="the new config does not pass `nginx -t`")
            old_workers = await asyncio.to_thread(self._workers)
            await self._nginx("-s", "reload", kind="unreachable", what="nginx did not take the reload signal")
            await self._wait_for(generation, old_workers)
        except BaseException:
            # the workers still run the previous file: put it back so disk and workers agree
            await asyncio.to_thread(_write_atomically, path, previous)
            raise

    async def _nginx(self, *args: str, kind: str, what: str) -> None:
        argv = [self.layout.nginx_binary, *args, "-c", str(self.layout.conf_path)]
        if self.layout.prefix is not None:
            argv += ["-p", str(self.layout.prefix)]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            async with asyncio.timeout(self.timeout_seconds * 2):
                out, err = await process.communicate()
        except OSError as exc:
            raise RouterError("unreachable", f"cannot run {argv[0]}: {exc}", router=self.name) from exc
        except TimeoutError as exc:
            process.kill()
            raise RouterError("timeout", f"`{' '.join(argv)}` did not finish", router=self.name) from exc
        if process.returncode != 0:
            detail = (err or out).decode(errors="replace").strip()[-800:]
            raise RouterError(
                "rejected" if kind == "rejected" else "unreachable",
                f"{what}; the previous config keeps serving:\n{detail}",
                router=self.name,
            )

    def _workers(self, among: set[int] | None = None) -> set[int]:
        """Pids of the master's workers that still accept connections (a worker told to quit retitles
        itself "worker process is shutting down" once it closed its listening sockets)."""
        if self.layout.pid_file is None:
            return set()
        try:
            master = psutil.Process(int(self.layout.pid_file.read_text().strip()))
            children = master.children()
        except (OSError, ValueError, psutil.Error):
            return set()
        out = set()
        for child in children:
            with contextlib.suppress(psutil.Error):
                title = " ".join(child.cmdline())
                if "worker process" in title and "shutting down" not in title:
                    out.add(child.pid)
        return out if among is None else out & among

    async def _wait_for(self, generation: int, old_workers: set[int]) -> None:
        """Poll until the workers answer with ``generation`` and no worker of the previous one accepts."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.layout.reload_timeout_seconds
        pause = 0.01
        last = "no answer"
        while loop.time() < deadline:
            try:
                served = await self._served()
                if served.generation == generation:
                    lingering = await asyncio.to_thread(self._workers, old_workers)
                    if not lingering:
                        return
                    served_note = f"generation {generation}, but old workers {sorted(lingering)} still accept"
                    last = served_note
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 0.2)
                    continue
                last = f"generation {served.generation}"
            except RouterError as exc:
                last = exc.message
            await asyncio.sleep(pause)  # polling with a deadline while the workers switch over
            pause = min(pause * 2, 0.2)
        raise RouterError(
            "timeout",
            f"the workers did not switch to generation {generation} within "
            f"{self.layout.reload_timeout_seconds:g} s (last seen: {last})",
            router=self.name,
            hint="see nginx's error log: the master may have refused the new config (a port in use?)",
        )


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.livesite-tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
