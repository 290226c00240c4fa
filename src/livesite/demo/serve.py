"""Run an ASGI app of a demo component on the listening socket its parent bound for it."""

from __future__ import annotations

import socket

import uvicorn
from starlette.types import ASGIApp


def serve(app: ASGIApp, fd: int) -> None:
    """Serve `app` on the inherited socket `fd` until SIGTERM/SIGINT."""
    sock = socket.socket(fileno=fd)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=5,
    )
    uvicorn.Server(config).run(sockets=[sock])
