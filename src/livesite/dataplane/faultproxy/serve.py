"""Run the fault proxy: proxies from a Toxiproxy config file, and the API on an address, in the
caller's event loop, until ``stop`` is set."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable, Generator
from pathlib import Path

import uvicorn

from livesite.dataplane.faultproxy import wire
from livesite.dataplane.faultproxy.api import create_app
from livesite.dataplane.faultproxy.errors import ApiError
from livesite.dataplane.faultproxy.proxy import split_address
from livesite.dataplane.faultproxy.service import FaultProxy
from livesite.errors import ConfigError, UsageError


def read_config(path: Path) -> object:
    """A Toxiproxy config file (a JSON array of proxies, as ``toxiproxy-server -config`` reads).

    Raises:
        ConfigError: unreadable, not JSON (with line and column), or not an array.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"cannot read {path}: {e}", file=str(path), hint="pass --config a readable JSON file"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"not JSON: {e.msg}",
            file=str(path),
            line=e.lineno,
            col=e.colno,
            hint="fix the JSON at this place",
        ) from None
    if not isinstance(data, list):
        raise ConfigError(
            "a fault proxy config is a JSON array of proxies",
            file=str(path),
            line=1,
            col=1,
            hint='write [{"name": "db", "listen": "127.0.0.1:26379", "upstream": "127.0.0.1:6379"}]',
        )
    return data


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the caller owns SIGINT/SIGTERM


def bind(listen: str) -> socket.socket:
    """A listening socket for the API, bound before anything else starts.

    Raises:
        UsageError: the address is not host:port, or cannot be listened on.
    """
    try:
        host, port = split_address(listen)
    except ValueError:
        raise UsageError(
            f"--api {listen[:100]!r} is not host:port", hint="write e.g. 127.0.0.1:8474"
        ) from None
    host = host or "127.0.0.1"
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError, UnicodeError) as e:
        sock.close()
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise UsageError(
            f"cannot listen on {listen}: {reason}", hint="choose another address with --api"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(
    service: FaultProxy,
    api: socket.socket,
    stop: asyncio.Event,
    config: object | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Populate from ``config``, answer the API on ``api`` until ``stop``, then drop every proxy.

    Raises:
        UsageError: a proxy of the config cannot be created (a bad field, or its port is taken).
    """
    if config is not None:
        try:
            _, error = await service.populate(config)
        except ApiError as e:
            error = e
        if error is not None:
            await service.close()
            api.close()
            raise UsageError(f"cannot populate the proxies of the config: {error.message}")
    server = _Server(
        uvicorn.Config(create_app(service), log_level="warning", access_log=False, lifespan="off")
    )
    task = asyncio.create_task(server.serve(sockets=[api]))
    try:
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        host, port = api.getsockname()[:2]
        if on_ready is not None and not task.done():
            on_ready(f"http://{host}:{port}")
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
    finally:
        server.should_exit = True
        await asyncio.wait([task])
        await service.close()
        api.close()


__all__ = ["bind", "read_config", "serve", "wire"]
