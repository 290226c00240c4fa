"""Real data planes for the router tests: HAProxy and nginx as subprocesses, the demo's front in-process,
each in front of two tiny backends on 127.0.0.1 that answer with their name ("stable", "canary").

Every fixture stops what it started (process groups, tasks); nothing is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from livesite.dataplane.router import Router as DataplaneRouter
from livesite.demo.front import router_settings
from livesite.demo.settings import FrontSettings
from livesite.rollout.routers import (
    BuiltinRouter,
    BuiltinSettings,
    HaproxyLayout,
    HaproxyRouter,
    NginxLayout,
    NginxRouter,
    Router,
    Sticky,
)
from livesite.rollout.routers.haproxy_config import write as write_haproxy
from livesite.rollout.routers.nginx_config import render_conf, render_include
from livesite.testing.servers import MissingBinary, find_binary, free_port

TOKEN = "router-test-token-0123456789"


class NameServer:
    """HTTP/1.1 with keep-alive that answers its own name; /fail answers 500."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> NameServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self.writers):  # ends kept-alive connections, so their handlers return
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    await reader.readexactly(length)
                status = b"500 Boom" if b" /fail" in head.split(b"\r\n")[0] else b"200 OK"
                body = self.name.encode()
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Type: text/plain\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()


@dataclass
class Plane:
    """A router, where to send traffic through its data plane, and ways to disturb it."""

    kind: str
    router: Router
    url: str
    tamper: Callable[[str, int], Awaitable[None]]  # set a weight behind the router's back
    stop: Callable[[], Awaitable[None]]  # make the data plane go away
    has_routes: bool
    directory: Path


def _require(name: str, package: str) -> str:
    try:
        return find_binary(name, package)
    except MissingBinary as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} — CI must have it installed", pytrace=False)
        pytest.skip(str(exc))


class Process:
    """A server subprocess in its own process group; stop() ends the group."""

    def __init__(self, argv: list[str], log: Path) -> None:
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.log = log

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                continue


async def until(ready: Callable[[], Awaitable[bool]], what: str, process: Process | None = None) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not await ready():
        if process is not None and process.popen.poll() is not None:
            pytest.fail(f"{what} exited: {process.log.read_text()[-2000:]}")
        if loop.time() > deadline:
            pytest.fail(f"{what} not ready within 10 s")
        await asyncio.sleep(0.02)  # polling with a deadline


async def _answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=1) as client:
            await client.get(url)
        return True
    except httpx.HTTPError:
        return False


@pytest.fixture
async def backends() -> AsyncIterator[dict[str, NameServer]]:
    servers = {name: await NameServer(name).start() for name in ("stable", "canary")}
    yield servers
    for server in servers.values():
        await server.stop()


async def start_haproxy(
    directory: Path,
    backends: dict[str, NameServer],
    sticky: Sticky | None = None,
    same: HaproxyLayout | None = None,
) -> tuple[HaproxyLayout, Process]:
    """HAProxy with a generated config (or, with ``same``, restarted on the config it already has)."""
    binary = _require("haproxy", "haproxy")
    port = free_port()
    layout = same or HaproxyLayout(
        socket=directory / "admin.sock",
        backends={name: b.address for name, b in backends.items()},
        weights={"stable": 100, "canary": 0},
        bind=f"127.0.0.1:{port}",
        map_dir=directory / "maps",
        sticky=sticky,
    )
    config = directory / "haproxy.cfg" if same else write_haproxy(layout, directory / "haproxy.cfg")
    process = Process([binary, "-f", str(config), "-db"], directory / "haproxy.log")
    router = HaproxyRouter(layout)

    async def ready() -> bool:
        try:
            await router.verify()
            return await _answers(f"http://{layout.bind}/")
        except Exception:
            return False

    await until(ready, "haproxy", process)
    return layout, process


async def start_nginx(
    directory: Path, backends: dict[str, NameServer], sticky: Sticky | None = None
) -> tuple[NginxLayout, Process]:
    binary = _require("nginx", "nginx-light")
    port = free_port()
    layout = NginxLayout(
        backends={name: b.address for name, b in backends.items()},
        weights={"stable": 100, "canary": 0},
        sticky=sticky,
        include_path=directory / "livesite.conf",
        conf_path=directory / "nginx.conf",
        prefix=directory,
        pid_file=directory / "nginx.pid",
        state_url=f"http://127.0.0.1:{port}/-/livesite",
        access_log=directory / "access.json",
        nginx_binary=binary,
    )
    layout.include_path.write_text(render_include(layout, layout.initial_weights(), [], 1))
    user = "root" if os.geteuid() == 0 else None
    layout.conf_path.write_text(render_conf(layout, listen=f"127.0.0.1:{port}", user=user))
    process = Process(
        [binary, "-c", str(layout.conf_path), "-p", str(directory), "-g", "daemon off;"],
        directory / "nginx.log",
    )
    await until(lambda: _answers(layout.state_url), "nginx", process)
    return layout, process


async def _socat(socket_path: Path, line: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "socat", "stdio", f"UNIX-CONNECT:{socket_path}", stdin=asyncio.subprocess.PIPE
    )
    await process.communicate(line.encode() + b"\n")


@pytest.fixture(params=["haproxy", "nginx", "builtin"])
async def plane(
    request: pytest.FixtureRequest, tmp_path: Path, backends: dict[str, NameServer]
) -> AsyncIterator[Plane]:
    kind: str = request.param
    if kind == "haproxy":
        hlayout, process = await start_haproxy(tmp_path, backends)

        async def tamper(backend: str, weight: int) -> None:
            _require("socat", "socat")
            await _socat(hlayout.socket, f"set server {hlayout.proxy}/{backend} weight {weight}")

        async def stop() -> None:
            process.stop()

        try:
            yield Plane(kind, HaproxyRouter(hlayout), f"http://{hlayout.bind}", tamper, stop, True, tmp_path)
        finally:
            process.stop()
    elif kind == "nginx":
        nlayout, nprocess = await start_nginx(tmp_path, backends)

        async def ntamper(backend: str, weight: int) -> None:
            # an operator edits the file by hand and reloads
            address = nlayout.backends[backend]
            text = nlayout.include_path.read_text().splitlines()
            edited = [
                f"    server {address} weight={weight};  # {backend}"
                if line.strip().startswith(f"server {address} w")
                else line
                for line in text
            ]
            nlayout.include_path.write_text("\n".join(edited) + "\n")
            reload = await asyncio.create_subprocess_exec(
                nlayout.nginx_binary, "-s", "reload", "-c", str(nlayout.conf_path), "-p", str(tmp_path)
            )
            await reload.wait()

        async def nstop() -> None:
            nprocess.stop()

        url = nlayout.state_url.removesuffix("/-/livesite")
        try:
            yield Plane(kind, NginxRouter(nlayout), url, ntamper, nstop, True, tmp_path)
        finally:
            nprocess.stop()
    else:
        async with demo_front(tmp_path, backends) as (url, front):
            router = BuiltinRouter(BuiltinSettings(url=url, token=TOKEN))

            async def btamper(backend: str, weight: int) -> None:
                async with httpx.AsyncClient() as client:
                    headers = {"Authorization": f"Bearer {TOKEN}"}
                    (
                        await client.put(f"{url}/-/weights", json={backend: weight}, headers=headers)
                    ).raise_for_status()

            async def bstop() -> None:
                await front.stop(grace_seconds=0.5)

            yield Plane(kind, router, url, btamper, bstop, True, tmp_path)


@contextlib.asynccontextmanager
async def demo_front(
    directory: Path, backends: dict[str, NameServer]
) -> AsyncIterator[tuple[str, DataplaneRouter]]:
    """The demo's front (livesite.demo.front: the built-in router with the demo's settings), in this loop."""
    settings = FrontSettings(
        name="front-test",
        state_dir=directory,
        admin_token=TOKEN,
        backends={name: f"http://{b.address}" for name, b in backends.items()},
        weights={"stable": 100, "canary": 0},
    )
    front = DataplaneRouter(router_settings(settings))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    await front.start(sock=sock)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        await until(lambda: _answers(f"{url}/-/health"), "demo front")
        yield url, front
    finally:
        await front.stop(grace_seconds=1.0)
        with contextlib.suppress(OSError):
            sock.close()


@contextlib.asynccontextmanager
async def serve_asgi(app: ASGIApp) -> AsyncIterator[tuple[str, uvicorn.Server]]:
    """Serve an ASGI app with uvicorn in this loop on a free 127.0.0.1 port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http="httptools", log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    url = f"http://127.0.0.1:{port}"
    try:
        await until(lambda: _answers(f"{url}/-/health"), "asgi app")
        yield url, server
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
        sock.close()
