"""The HAProxy router: weights, routes and drain through the Runtime API, read back from HAProxy itself.

Weights are ``set server PROXY/NAME weight N`` on the weighted backend; routes replace each route
source's map atomically (``prepare map`` / ``add map @V`` / ``commit map @V``) and are also written to the
map files, so a reload keeps them; verify reads ``show servers state`` and ``show map``; stats read
``show stat``. The haproxy.cfg it needs comes from :mod:`livesite.rollout.routers.haproxy_config`.

Runtime changes die with the HAProxy process, so after each one the router saves ``show servers state``
to the layout's state file, which the generated haproxy.cfg loads at start (``server-state-file``,
``load-server-state-from-file``): a restart or reload keeps the weights, drains and (map files) routes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from livesite.rollout.routers.base import (
    Asked,
    BackendStats,
    Latency,
    Route,
    RouterError,
    RouterState,
    check_routes,
    check_weights,
    fingerprint,
)
from livesite.rollout.routers.haproxy_config import HaproxyLayout
from livesite.rollout.routers.haproxy_runtime import (
    RuntimeUnavailable,
    command,
    parse_map,
    parse_servers_state,
    parse_stat,
)

_STATUS_COLUMNS = {
    "1xx": "hrsp_1xx",
    "2xx": "hrsp_2xx",
    "3xx": "hrsp_3xx",
    "4xx": "hrsp_4xx",
    "5xx": "hrsp_5xx",
}


class HaproxyRouter:
    """A :class:`~livesite.rollout.routers.base.Router` (and ``Drainable``) over HAProxy's stats socket."""

    def __init__(self, layout: HaproxyLayout, *, timeout_seconds: float = 5.0) -> None:
        self.layout = layout
        self.name = f"haproxy ({layout.socket})"
        self.timeout_seconds = timeout_seconds
        self.asked = Asked()
        self._lock = asyncio.Lock()  # one change at a time: a map version must not interleave

    async def _run(self, line: str) -> str:
        try:
            return await command(self.layout.socket, line, timeout_seconds=self.timeout_seconds)
        except RuntimeUnavailable as exc:
            raise RouterError(
                "unreachable",
                str(exc),
                router=self.name,
                hint="is HAProxy running with `stats socket ... level admin` at this path?",
            ) from exc

    async def _change(self, line: str) -> None:
        """A command that answers nothing when it worked; anything else is HAProxy refusing it."""
        answer = (await self._run(line)).strip()
        if answer:
            raise RouterError("rejected", f"`{line}` → {answer}", router=self.name)

    async def set_weights(self, weights: Mapping[str, int]) -> None:
        wanted = check_weights(self.name, weights, list(self.layout.backends))
        applied: dict[str, int] = {}
        async with self._lock:
            for backend, weight in wanted.items():
                try:
                    await self._change(f"set server {self.layout.proxy}/{backend} weight {weight}")
                except RouterError as exc:
                    if applied:  # one command per server: say what is already in place
                        exc.message += f"; already applied: {applied}"
                        exc.args = (exc.message,)
                    raise
                applied[backend] = weight
                self.asked.weights[backend] = weight
            await self._save_state()

    async def set_routes(self, routes: Sequence[Route]) -> None:
        wanted = check_routes(self.name, routes, list(self.layout.backends))
        maps = self.layout.route_maps()
        missing = sorted({r.source for r in wanted} - set(maps))
        if missing:
            have = ", ".join(f"{k} {n}" for k, n in maps) or "none"
            raise RouterError(
                "unsupported",
                f"this haproxy.cfg has no route on {', '.join(f'{k} {n}' for k, n in missing)}",
                router=self.name,
                hint=f"it routes on: {have}; regenerate it with route_headers/route_cookies",
            )
        async with self._lock:
            for source, path in maps.items():
                entries = {r.value: self.layout.pinned(r.backend) for r in wanted if r.source == source}
                await self._replace_map(str(path), entries)
                # so a restart or reload of HAProxy starts with the same routes
                text = "".join(f"{k} {v}\n" for k, v in entries.items())
                await self._save(path, text, "the routes")
            self.asked.routes = wanted

    async def _replace_map(self, path: str, entries: Mapping[str, str]) -> None:
        answer = (await self._run(f"prepare map {path}")).strip()
        prefix = "New version created:"
        if not answer.startswith(prefix):
            raise RouterError("rejected", f"`prepare map {path}` → {answer}", router=self.name)
        version = answer.removeprefix(prefix).strip()
        for key, value in entries.items():
            await self._change(f"add map @{version} {path} {key} {value}")
        await self._change(f"commit map @{version} {path}")

    async def verify(self) -> RouterState:
        async with self._lock:
            servers_text = await self._run(f"show servers state {self.layout.proxy}")
            try:
                servers = parse_servers_state(servers_text, self.layout.proxy)
            except ValueError as exc:
                raise RouterError("rejected", str(exc), router=self.name) from exc
            missing = sorted(set(self.layout.backends) - set(servers))
            if missing:
                raise RouterError(
                    "mismatch",
                    f"HAProxy's backend {self.layout.proxy} has no server {', '.join(missing)}",
                    router=self.name,
                    hint="the running haproxy.cfg is not the one generated for this layout",
                )
            routes: list[Route] = []
            by_pinned = {self.layout.pinned(b): b for b in self.layout.backends}
            for kind, name, path in self.layout.sources():
                try:
                    entries = parse_map(await self._run(f"show map {path}"))
                except ValueError as exc:
                    raise RouterError(
                        "mismatch", f"HAProxy has no map {path}: {exc}", router=self.name
                    ) from exc
                for value, target in entries.items():
                    backend = by_pinned.get(target)
                    if backend is None:
                        raise RouterError(
                            "mismatch", f"map {path} sends {value} to unknown {target}", router=self.name
                        )
                    header, cookie = (name, None) if kind == "header" else (None, name)
                    routes.append(Route(header=header, cookie=cookie, value=value, backend=backend))
        weights = {name: servers[name].weight for name in self.layout.backends}
        draining = [name for name in self.layout.backends if servers[name].draining]
        state = RouterState(
            weights=weights,
            routes=routes,
            draining=draining,
            generation=fingerprint(weights, routes, draining),
        )
        return self.asked.check(self.name, state)

    async def stats(self) -> dict[str, BackendStats]:
        text = await self._run("show stat")
        try:
            rows = parse_stat(text)
        except ValueError as exc:
            raise RouterError("rejected", str(exc), router=self.name) from exc
        out: dict[str, BackendStats] = {}
        for backend in self.layout.backends:
            proxies = {self.layout.proxy, self.layout.pinned(backend)}
            mine = [r for r in rows if r.get("pxname") in proxies and r.get("svname") == backend]
            out[backend] = _backend_stats(mine)
        return out

    async def drain(self, backend: str) -> None:
        check_weights(self.name, {backend: 0}, list(self.layout.backends))
        async with self._lock:
            await self._change(f"set server {self.layout.proxy}/{backend} state drain")
            await self._save_state()

    async def undrain(self, backend: str) -> None:
        check_weights(self.name, {backend: 0}, list(self.layout.backends))
        async with self._lock:
            await self._change(f"set server {self.layout.proxy}/{backend} state ready")
            await self._save_state()

    async def _save_state(self) -> None:
        """Write `show servers state` where haproxy.cfg's server-state-file loads it at the next start."""
        text = await self._run("show servers state")
        if not text.startswith("1\n"):
            raise RouterError("rejected", f"`show servers state` → {text.strip()[:200]}", router=self.name)
        await self._save(self.layout.state_file, text, "the weights")

    async def _save(self, path: Path, text: str, what: str) -> None:
        temporary = path.with_name(f".{path.name}.tmp")
        try:
            await asyncio.to_thread(temporary.write_text, text)
            await asyncio.to_thread(os.replace, temporary, path)
        except OSError as exc:
            raise RouterError(
                "rejected",
                f"HAProxy runs {what} asked, but they cannot be saved to {path}: {exc.strerror or exc}; "
                "a restart of HAProxy would lose them",
                router=self.name,
                hint="make the layout's map_dir writable for livesite",
            ) from exc


def _number(row: Mapping[str, str], column: str) -> int:
    value = row.get(column) or "0"
    return int(value) if value.isdigit() else 0


def _backend_stats(rows: Sequence[Mapping[str, str]]) -> BackendStats:
    """Sum a backend's server rows (weighted and pinned); HAProxy keeps only a moving average of time."""
    status = {cls: sum(_number(r, col) for r in rows) for cls, col in _STATUS_COLUMNS.items()}
    status["other"] = sum(_number(r, "hrsp_other") for r in rows)
    requests = sum(_number(r, "req_tot") or _number(r, "stot") for r in rows)
    errors = status["5xx"] + sum(_number(r, "econ") + _number(r, "eresp") for r in rows)
    answered = sum(status.values())
    # ttime: average total time of the last 1024 requests, in ms; weighted by each row's answers
    weighted = sum(_number(r, "ttime") * sum(_number(r, c) for c in _STATUS_COLUMNS.values()) for r in rows)
    mean = weighted / answered / 1000 if answered else None
    return BackendStats(
        requests=requests,
        errors=errors,
        status={k: v for k, v in status.items() if v},
        latency=Latency(count=answered, mean_seconds=mean),
    )
