"""Serve the web app inside the caller's event loop, leaving signals to the caller."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI

from livesite.errors import UsageError


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The monitor owns SIGTERM/SIGINT so it can flush the store before exiting.
        yield


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9109`` for IPv6; port 0 picks a free one) as a bindable pair.

    Raises:
        UsageError: no port, a port that is not a number from 0 to 65535, or an empty IPv6 host.
    """
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise UsageError(
            f"cannot read listen address {listen!r}",
            hint="write host:port with a port from 0 to 65535, e.g. 127.0.0.1:9109",
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "127.0.0.1", int(port)


class WebServer:
    """A bound socket and the server that will answer on it. Binding first makes "port in use" our error."""

    def __init__(self, app: FastAPI, listen: str) -> None:
        host, port = parse_listen(listen)
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except (OSError, OverflowError, UnicodeError) as e:  # in use, not ours, or a host that is no address
            self.sock.close()
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise UsageError(
                f"cannot listen on {listen}: {reason}", hint="choose another address with --listen"
            ) from None
        self.sock.listen(128)
        self.sock.setblocking(False)
        self.host, self.port = self.sock.getsockname()[:2]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = _Server(config)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def serve(self) -> None:
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            self.sock.close()

    def stop(self) -> None:
        self.server.should_exit = True
