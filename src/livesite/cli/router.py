"""`livesite router`: run the built-in L7 router on its own (parse, start, wait for Ctrl-C / SIGTERM)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from livesite import runtime
from livesite.cli import render
from livesite.cli.signals import stop_on_signals
from livesite.dataplane.router import (
    BackendError,
    HealthCheck,
    Router,
    RouterSettings,
    Sticky,
    parse_backends,
)
from livesite.errors import UsageError

console = render.make_console()


def _listen(text: str) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]") or "0.0.0.0", int(port_text)


def _token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"--admin-token-file {path}: {exc.strerror}") from None
    if not token:
        raise UsageError(f"--admin-token-file {path} is empty; put the token on its first line")
    return token


def router(
    backend: Annotated[
        list[str],
        typer.Option(
            "--backend",
            "-b",
            help="A backend as URL=WEIGHT or NAME=URL=WEIGHT (repeatable), e.g. stable=http://127.0.0.1:8001=90.",
        ),
    ],
    listen: Annotated[
        str, typer.Option(help="HOST:PORT to serve on (port 0: any free port).")
    ] = "127.0.0.1:8080",
    name_backends: Annotated[
        str | None,
        typer.Option(help="Names for the backends, in order, e.g. stable,canary (default: b1, b2, ...)."),
    ] = None,
    sticky_header: Annotated[
        str | None, typer.Option(help="Keep each user on one revision by this header (e.g. a user id).")
    ] = None,
    sticky_cookie: Annotated[
        str | None, typer.Option(help="Keep each user on one revision by this cookie.")
    ] = None,
    admin_token_file: Annotated[
        Path | None, typer.Option(help="A file holding the bearer token the admin API (/-/...) requires.")
    ] = None,
    health_path: Annotated[str, typer.Option(help="Path of the active health check.")] = "/",
    health_interval: Annotated[float, typer.Option(help="Seconds between health checks.", min=0.05)] = 2.0,
    no_health: Annotated[bool, typer.Option("--no-health", help="No active health checks.")] = False,
    backend_header: Annotated[
        str, typer.Option(help="Response header naming the backend that answered ('' for none).")
    ] = "X-Backend",
) -> None:
    """Run the built-in L7 router: weighted split, sticky cohorts, routes, stats, health checks, faults.

    Its admin API is under /-/ on the same port (docs/router.md).
    """
    if sticky_header and sticky_cookie:
        raise UsageError("give --sticky-header or --sticky-cookie, not both")
    host, port = _listen(listen)
    names = [n.strip() for n in name_backends.split(",")] if name_backends else None
    try:
        backends = parse_backends(backend, names)
        settings = RouterSettings(
            host=host,
            port=port,
            backends=backends,
            sticky=Sticky(header=sticky_header, cookie=sticky_cookie)
            if sticky_header or sticky_cookie
            else None,
            admin_token=_token(admin_token_file),
            health=HealthCheck(path=health_path, interval_seconds=health_interval, enabled=not no_health),
            backend_header=backend_header or None,
        )
    except BackendError as exc:
        raise UsageError(f"--backend {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise UsageError(f"router settings: {where + ': ' if where else ''}{err['msg']}") from None
    runtime.run(_serve(settings))


async def _serve(settings: RouterSettings) -> None:
    with stop_on_signals() as stop:
        router = Router(settings)
        try:
            await router.start()
        except OSError as exc:
            raise UsageError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
        # Everything alive now (modules, settings) lives as long as the process: keep it out of the
        # collector's full passes, which would otherwise walk it during traffic (a p99 spike).
        gc.freeze()
        weights = ", ".join(f"{b.name}={b.url} ({b.weight})" for b in settings.backends)
        console.print(f"router listening on {router.url} → {weights}", highlight=False, soft_wrap=True)
        try:
            await stop.wait()
        finally:
            await router.stop()
        console.print("router stopped", highlight=False)
