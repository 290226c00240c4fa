"""`livesite chaos proxy`: parse, start the fault proxy, report where it listens."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated

import typer

from livesite import runtime
from livesite.cli import render
from livesite.cli.signals import stop_on_signals
from livesite.config.types import format_duration, parse_duration
from livesite.dataplane.faultproxy import FaultProxy, bind, read_config, serve
from livesite.errors import UsageError

app = typer.Typer(
    help="Chaos: faults with a TTL. `proxy` runs the network fault proxy.", no_args_is_help=True
)
errors = render.make_console(stderr=True)


@app.command()
def proxy(
    api: Annotated[
        str,
        typer.Option(help="host:port of the Toxiproxy-compatible API (loopback unless you say otherwise)."),
    ] = "127.0.0.1:8474",
    config: Annotated[
        Path | None, typer.Option(help="Proxies to create at start: a Toxiproxy config file (JSON array).")
    ] = None,
    default_ttl: Annotated[
        str | None,
        typer.Option(help="TTL of toxics created without one, e.g. 10m; without it they stay until removed."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for toxicity and jitter, to repeat a run.")] = None,
) -> None:
    """Run a TCP fault proxy with Toxiproxy's toxics and API (its clients work unchanged), until Ctrl-C.

    Each toxic may carry a `ttl` (seconds or a duration such as "30s"), after which it removes itself.
    """
    ttl_seconds: float | None = None
    if default_ttl is not None:
        try:
            ttl_seconds = parse_duration(default_ttl)
        except ValueError as e:
            raise UsageError(f"--default-ttl: {e}", hint="write e.g. 30s, 10m or 1h") from None
        if ttl_seconds <= 0:
            raise UsageError("--default-ttl must be more than 0", hint="write e.g. 10m")
    proxies = read_config(config) if config is not None else None
    sock = bind(api)
    service = FaultProxy(random.Random(seed), default_ttl_seconds=ttl_seconds)

    def ready(url: str) -> None:
        ttl = f", toxics expire after {format_duration(ttl_seconds)} by default" if ttl_seconds else ""
        errors.print(
            f"livesite chaos proxy: API at {url}, {len(service.proxies)} proxies{ttl}", highlight=False
        )

    async def main() -> None:
        with stop_on_signals() as stop:
            await serve(service, sock, stop, config=proxies, on_ready=ready)

    runtime.run(main())
