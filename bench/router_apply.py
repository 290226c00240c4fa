"""Time from "move the canary's weight" to "verified on the data plane", per router, same run.

Load: ``--changes`` weight changes (default 100 for HAProxy, a tenth of that for nginx, whose every
change is a reload), each followed by a read-back of what runs. Contenders:

- livesite's ``HaproxyRouter``: ``set_weights`` + ``verify`` over the stats socket (asyncio);
- the peer: what an operator's script does, one ``socat`` per Runtime API command
  (``set server livesite/canary weight N``, then ``show servers state livesite``);
- livesite's ``NginxRouter``: render, ``nginx -t``, ``nginx -s reload``, poll until the workers run the
  new generation and the old ones stopped accepting, then ``verify`` (for context: nginx has no API).

Prints HAProxy's and nginx's versions, then the line
``router_apply: haproxy livesite X ms/change vs socat Y ms/change → ratio Z×; nginx reload-to-verified W ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # bench/ is not a package: the sys.path line above makes this importable

from livesite.rollout.routers import HaproxyLayout, HaproxyRouter, NginxLayout, NginxRouter
from livesite.rollout.routers.haproxy_config import write as write_haproxy
from livesite.rollout.routers.haproxy_runtime import parse_servers_state
from livesite.rollout.routers.nginx_config import render_conf, render_include


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _wait(ready: object, what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            await ready()  # type: ignore[operator]
            return
        except Exception:
            await asyncio.sleep(0.05)  # polling with a deadline
    raise RuntimeError(f"{what} did not start")


def _socat_change(socket_path: Path, weight: int) -> None:
    connect = f"UNIX-CONNECT:{socket_path}"
    line = f"set server livesite/canary weight {weight}\n"
    subprocess.run(["socat", "stdio", connect], input=line.encode(), capture_output=True, check=True)
    shown = subprocess.run(
        ["socat", "stdio", connect], input=b"show servers state livesite\n", capture_output=True, check=True
    )
    if parse_servers_state(shown.stdout.decode(), "livesite")["canary"].weight != weight:
        raise RuntimeError("socat: weight not applied")


async def bench_haproxy(work: Path, backends: dict[str, str], changes: int) -> tuple[float, float]:
    layout = HaproxyLayout(socket=work / "admin.sock", backends=backends, map_dir=work / "maps")
    config = write_haproxy(layout, work / "haproxy.cfg")
    proc = h.spawn([h.require("haproxy"), "-f", str(config), "-db"], work / "haproxy.log")
    try:
        router = HaproxyRouter(layout)
        await _wait(router.verify, "haproxy")
        started = time.perf_counter()
        for i in range(changes):
            await router.set_weights({"canary": i % 100})
            await router.verify()
        ours = (time.perf_counter() - started) / changes
        started = time.perf_counter()
        for i in range(changes):
            await asyncio.to_thread(_socat_change, layout.socket, (i + 1) % 100)
        theirs = (time.perf_counter() - started) / changes
        return ours, theirs
    finally:
        h.stop(proc)


async def bench_nginx(work: Path, backends: dict[str, str], changes: int) -> float:
    port = h.free_port()
    layout = NginxLayout(
        backends=backends,
        include_path=work / "livesite.conf",
        conf_path=work / "nginx.conf",
        prefix=work,
        pid_file=work / "nginx.pid",
        state_url=f"http://127.0.0.1:{port}/-/livesite",
        access_log=work / "access.json",
        nginx_binary=h.require("nginx"),
    )
    layout.include_path.write_text(render_include(layout, layout.initial_weights(), [], 1))
    user = "root" if os.geteuid() == 0 else None
    layout.conf_path.write_text(render_conf(layout, listen=f"127.0.0.1:{port}", user=user))
    argv = [layout.nginx_binary, "-c", str(layout.conf_path), "-p", str(work), "-g", "daemon off;"]
    proc = h.spawn(argv, work / "nginx.log")
    try:
        router = NginxRouter(layout)
        await _wait(router.verify, "nginx")
        started = time.perf_counter()
        for i in range(changes):
            await router.set_weights({"canary": 1 + i % 99})
            await router.verify()
        return (time.perf_counter() - started) / changes
    finally:
        h.stop(proc)


def _version(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return (done.stdout + done.stderr).splitlines()[0].strip()


async def run(changes: int) -> str:
    servers = [await asyncio.start_server(_answer, "127.0.0.1", 0) for _ in range(2)]
    backends = {
        name: f"127.0.0.1:{s.sockets[0].getsockname()[1]}"
        for name, s in zip(("stable", "canary"), servers, strict=True)
    }
    try:
        with tempfile.TemporaryDirectory(prefix="livesite-bench-routers-") as tmp:
            work = Path(tmp)
            (work / "haproxy").mkdir()
            (work / "nginx").mkdir()
            ours, theirs = await bench_haproxy(work / "haproxy", backends, changes)
            nginx = await bench_nginx(work / "nginx", backends, max(1, changes // 10))
    finally:
        for server in servers:
            server.close()
    return (
        f"router_apply: haproxy livesite {ours * 1000:.2f} ms/change vs socat {theirs * 1000:.2f} ms/change "
        f"→ ratio {theirs / ours:.1f}×; nginx reload-to-verified {nginx * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args()
    print(_version([h.require("haproxy"), "-v"]))
    print(_version([h.require("nginx"), "-v"]))
    print(f"load: {args.changes} HAProxy changes per contender, {max(1, args.changes // 10)} nginx reloads")
    print(f"load average before: {h.load_average()}")
    print(asyncio.run(run(args.changes)))


if __name__ == "__main__":
    main()
