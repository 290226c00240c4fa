"""`livesite users provision | list | cleanup CONFIG`: parse, call livesite.users, render with rich.

Nothing here prints a username or a password: the table shows ids, cohorts, attributes and leases.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from livesite.cli import render
from livesite.config import load
from livesite.config.models import Config
from livesite.users import Outcome, UserPool, cleanup, provision
from livesite.users.provision import missing, present
from livesite.users.roster import roster

app = typer.Typer(help="The fake-user pool: register users, list them, remove them.", no_args_is_help=True)
console = render.make_console()
T = TypeVar("T")

ConfigPath = Annotated[Path, typer.Argument(help="A YAML config file, or a directory of them.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print which users it would change; change nothing.")]


def _with_pool(config: Config, work: Callable[[UserPool], Awaitable[T]]) -> T:
    async def main() -> T:
        pool = await UserPool.open(config)
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(main())


def _outcomes(outcomes: list[Outcome], as_json: bool, nothing: str) -> None:
    if as_json:
        rows = [
            {"user": o.user, "cohort": o.cohort, "action": o.action, "reason": o.reason} for o in outcomes
        ]
        console.print_json(json.dumps(rows))
    elif not outcomes:
        console.print(nothing)
    else:
        table = Table("user", "cohort", "outcome", "reason")
        for o in outcomes:
            style = {"failed": "red", "registered": "green", "removed": "green"}.get(o.action, "yellow")
            table.add_row(o.user, o.cohort, f"[{style}]{o.action}[/]", render.printable(o.reason))
        console.print(table)
    if any(o.action == "failed" for o in outcomes):
        raise typer.Exit(1)


@app.command("provision")
def provision_command(config: ConfigPath, as_json: AsJson = False, dry_run: DryRun = False) -> None:
    """Register the missing users of every provisioned cohort (runs the registration journey)."""
    loaded = load(config)

    async def work(pool: UserPool) -> list[Outcome]:
        return missing(loaded, pool) if dry_run else await provision(loaded, pool)

    _outcomes(_with_pool(loaded, work), as_json, "every user is provisioned")


@app.command("cleanup")
def cleanup_command(config: ConfigPath, as_json: AsJson = False, dry_run: DryRun = False) -> None:
    """Run the cleanup journey for every provisioned user and forget them."""
    loaded = load(config)

    async def work(pool: UserPool) -> list[Outcome]:
        return present(loaded, pool) if dry_run else await cleanup(loaded, pool)

    _outcomes(_with_pool(loaded, work), as_json, "no provisioned users")


@app.command("list")
def list_command(config: ConfigPath, as_json: AsJson = False) -> None:
    """Every user: cohort, attributes, ready or missing, and who holds its lease (no secrets)."""
    loaded = load(config)
    rows = _with_pool(loaded, roster)
    if as_json:
        console.print_json(json.dumps([asdict(r) for r in rows]))
        return
    table = Table("user", "cohort", "attributes", "source", "state", "leased by", "until")
    for r in rows:
        until = (
            datetime.fromtimestamp(r.lease_expires_at, UTC).strftime("%H:%M:%S")
            if r.lease_expires_at is not None
            else ""
        )
        attributes = " ".join(f"{k}={v}" for k, v in r.attributes.items())
        table.add_row(r.user, r.cohort, attributes, r.source, r.state, r.leased_by, until)
    console.print(table)
