"""``livesite monkey CONFIG``: the monkey of the config's ``monkey:`` section, until Ctrl-C.

``--dry-run --days N`` prints the schedule it would run (kills, and each day it would not, with why)
and touches nothing. Leashed (records would-be kills only) unless the config says ``leashed: false``.
"""

from __future__ import annotations

import asyncio
import contextlib
import zoneinfo
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from livesite import runtime
from livesite.chaos.leases import FaultBook
from livesite.chaos.monkey import Monkey, schedule
from livesite.cli import render, stores
from livesite.cli.signals import stop_on_signals
from livesite.config import load
from livesite.errors import UsageError
from livesite.store import open_store
from livesite.store.leases import open_leases
from livesite.store.monkey import MonkeyEvent, monkey_events_of
from livesite.store.rollouts import rollouts_of

console = render.make_console()


def monkey(
    config: Annotated[Path, typer.Argument(help="The config with a monkey: section.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the schedule; kill nothing.")] = False,
    days: Annotated[int, typer.Option(min=1, max=3660, help="Days of schedule to print.")] = 30,
    show_skips: Annotated[bool, typer.Option(help="With --dry-run: also the days without a kill.")] = True,
    store: Annotated[str | None, typer.Option(help="Store URL (default: the config's).")] = None,
) -> None:
    """Chaos Monkey: kill processes of termination groups at random in business hours."""
    loaded = load(config)
    settings = loaded.monkey
    if settings is None or not settings.groups:
        raise UsageError(f"{config} has no monkey: section with groups", hint="see docs/chaos.md#the-monkey")
    if dry_run:
        zone = zoneinfo.ZoneInfo(settings.timezone)
        table = Table(title=f"monkey schedule, {days} days from today ({settings.timezone}, "
                      f"{'leashed' if settings.leashed else 'UNLEASHED'})")  # fmt: skip
        for column in ("day", "time", "group", "plan"):
            table.add_column(column)
        kills = 0
        for plan in schedule(settings, datetime.now(tz=zone).date(), days):
            if plan.at is not None:
                kills += 1
                table.add_row(f"{plan.day:%a %Y-%m-%d}", f"{plan.at:%H:%M}", plan.group, "kill")
            elif show_skips:
                table.add_row(f"{plan.day:%a %Y-%m-%d}", "", plan.group, render.safe(plan.skipped))
        console.print(table)
        console.print(f"{kills} kills planned in {days} days")
        return
    url, base_dir = (stores.from_option(store), Path.cwd()) if store else stores.from_config(config)

    def show(event: MonkeyEvent) -> None:
        targets = ", ".join(event.targets)
        text = (
            f"{event.at:%Y-%m-%d %H:%M} {event.group}: {event.action} {event.state} {targets} {event.reason}"
        )
        console.print(render.safe(text.strip(), max_chars=None))

    async def main() -> None:
        opened = await open_store(url, base_dir=base_dir)
        try:
            events = monkey_events_of(opened)
            assert events is not None
            book = FaultBook(await open_leases(opened))
            runner = Monkey(
                settings, book, events, rollouts=rollouts_of(opened), history=opened, on_event=show
            )
            console.print(
                f"monkey {'leashed' if settings.leashed else 'UNLEASHED'}: {len(settings.groups)} groups, "
                f"{settings.start_hour}:00–{settings.end_hour}:00 {settings.timezone}; Ctrl-C stops it"
            )
            with stop_on_signals() as stop:
                task = asyncio.create_task(runner.run())
                await stop.wait()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        finally:
            await opened.close()

    runtime.run(main())
    console.print(f"monkey stopped at {datetime.now(tz=UTC):%H:%M:%S} UTC")
