"""`livesite demo up|down|status|env`: parse, call livesite.demo, render with rich."""

from __future__ import annotations

import asyncio
import gc
import json
import shlex
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from livesite import demo
from livesite.cli import render
from livesite.demo.defects import DEFECTS
from livesite.demo.state import state_dir_option

app = typer.Typer(
    help="Run the demo production: a shop in two zones with seeded defects. "
    "With no command: the end-to-end scenario (what `make demo` runs).",
    invoke_without_command=True,
)
console = render.make_console()
errors = render.make_console(stderr=True)
T = TypeVar("T")

StateDir = Annotated[
    Path | None,
    typer.Option("--state-dir", envvar="LIVESITE_DEMO_DIR", help="State directory [default: .livesite/demo]"),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _run(work: Coroutine[object, object, T]) -> T:
    try:
        return asyncio.run(work)
    except KeyboardInterrupt:
        # asyncio.run has cancelled the work and run its cleanup (the scenario stops its demo) by now.
        errors.print("interrupted")
        raise typer.Exit(130) from None
    except demo.DemoError as exc:
        _print_error(exc)
        raise typer.Exit(exc.exit_code) from exc


def _print_error(exc: demo.DemoError) -> None:
    # The message can quote what the user typed (a defect name): never read it as markup.
    errors.print(render.error_text(exc.message))
    if exc.hint:
        errors.print(Text.assemble(("hint", "dim"), ": ", render.printable(exc.hint, max_chars=None)))


async def _watch_until_ctrl_c() -> None:
    from livesite.cli.signals import wait_for_ctrl_c

    # From here the monitor of `demo --keep` runs until Ctrl-C with everything long-lived in place:
    # move it out of the collector's sight, as `livesite monitor` does (bench/RESULTS.md: 1.4 s
    # pauses at 10,000 checks without it). The process is this command's, so the decision is too.
    gc.collect()
    gc.freeze()
    await wait_for_ctrl_c()


def _dir(state_dir: Path | None) -> Path:
    return state_dir or demo.default_state_dir()


@app.callback()
def scenario(
    ctx: typer.Context,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the demo production running at the end.")
    ] = False,
    state_dir: Annotated[
        Path | None, typer.Option("--scenario-dir", help="Where the scenario keeps its demo and results.")
    ] = None,
) -> None:
    """Start the demo, check it, break it on purpose and watch livesite catch it; then clean up."""
    if ctx.invoked_subcommand is not None:
        return
    from livesite.cli.scenario import RichReporter
    from livesite.scenario import run as run_scenario

    where = (state_dir or Path(".livesite/scenario")).absolute()
    result = _run(
        run_scenario(
            where, RichReporter(console), keep=keep, keep_watching=_watch_until_ctrl_c if keep else None
        )
    )
    if keep:
        console.print(
            Text(
                f"Monitor stopped. The demo keeps running: livesite demo down --state-dir {shlex.quote(str(where))}"
            )
        )
    if not result.passed:
        raise typer.Exit(1)


@app.command()
def up(
    revision: Annotated[str, typer.Option(help="Revision every shop instance runs.")] = "v1",
    defect: Annotated[
        list[str] | None,
        typer.Option("--defect", "-d", help=f"Seeded defect, repeatable: {', '.join(DEFECTS)}."),
    ] = None,
    token_ttl: Annotated[float, typer.Option("--token-ttl", help="Access token TTL in seconds.")] = 300,
    customers: Annotated[
        float, typer.Option("--customers", help="Simulated customer visits per second.")
    ] = 0,
    cache_ttl: Annotated[float, typer.Option("--cache-ttl", help="Edge cache TTL in seconds.")] = 30,
    instances: Annotated[int, typer.Option("--instances", help="Shop instances per zone.")] = 2,
    state_dir: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Start the demo production and print its URLs, ports and pids."""
    try:
        options = demo.DemoOptions(
            revision=revision,
            defects=defect or [],
            token_ttl_seconds=token_ttl,
            customers_per_second=customers,
            cache_ttl_seconds=cache_ttl,
            instances_per_zone=instances,
            state_dir=_dir(state_dir),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        errors.print(render.error_text(f"{'.'.join(map(str, first['loc']))}: {first['msg']}"))
        raise typer.Exit(2) from exc
    except demo.DemoError as exc:
        _print_error(exc)
        raise typer.Exit(exc.exit_code) from exc
    state = _run(demo.up(options))
    if as_json:
        # The admin token stays out of logs that keep this output; `livesite demo env` prints it.
        console.print_json(state.model_dump_json(exclude={"admin_token"}))
        return
    for notice in state.notices:
        console.print(Text.assemble(("note", "yellow"), ": ", render.printable(notice)))
    table = Table(title=render.safe(f"livesite demo ({state.options.revision}) in {state.state_dir}"))
    for column in ("component", "zone", "url", "port", "pid", "revision / defects"):
        table.add_column(column, no_wrap=column in ("url", "component"))
    for c in state.components:
        extra = f"{c.revision} {' '.join(c.defects)}".strip() if c.revision else ""
        table.add_row(c.name, c.zone or "", c.url, str(c.port), str(c.pid), extra)
    console.print(table)
    for zone in state.options.zones:
        console.print(f"{zone}: [bold]{state.zone_url(zone)}[/bold]", highlight=False)
    where = state_dir_option(state.state_dir)
    console.print(
        Text.assemble(
            "Point tools at it with ",
            (f'eval "$(livesite demo env{where})"', "bold"),
            "; stop it with ",
            (f"livesite demo down{where}", "bold"),
            ".",
        )
    )


@app.command()
def down(state_dir: StateDir = None) -> None:
    """Stop the processes the demo started (and nothing else)."""
    where = _dir(state_dir)
    stopped = _run(demo.down(where))
    if stopped:
        console.print(Text(f"stopped {len(stopped)} processes: {', '.join(stopped)}"))
    else:
        console.print(render.safe(f"nothing to stop in {where}"))


@app.command()
def status(state_dir: StateDir = None, as_json: AsJson = False) -> None:
    """Show each component: zone, URL, pid, alive and healthy. Exit 1 when something is down."""
    report = _run(demo.status(_dir(state_dir)))
    if as_json:
        console.print_json(report.model_dump_json())
    elif not report.components:
        console.print(render.safe(f"no demo is running in {report.state_dir}"))
    else:
        table = Table(title=render.safe(f"livesite demo in {report.state_dir}"))
        for column in ("component", "zone", "url", "pid", "alive", "health", "revision"):
            table.add_column(column, no_wrap=column in ("url", "component"))
        for c in report.components:
            alive = "[green]yes[/green]" if c.alive else "[red]no[/red]"
            health = f"[green]{c.detail}[/green]" if c.healthy else f"[red]{c.detail}[/red]"
            table.add_row(c.name, c.zone or "", c.url, str(c.pid), alive, health, c.revision or "")
        console.print(table)
    if not report.healthy:
        raise typer.Exit(1)


@app.command()
def env(state_dir: StateDir = None, as_json: AsJson = False) -> None:
    """Print `export` lines for the running demo (use with eval)."""
    try:
        state = demo.current(_dir(state_dir))
    except demo.DemoError as exc:
        _print_error(exc)
        raise typer.Exit(exc.exit_code) from exc
    variables = state.env()
    if as_json:
        print(json.dumps(variables, indent=2))
        return
    for key, value in variables.items():
        print(f"export {key}={shlex.quote(value)}")
