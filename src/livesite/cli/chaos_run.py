"""``livesite chaos run EXP.yaml``, ``chaos halt`` and ``chaos recover`` (registered on the chaos group).

``run`` shows live progress, writes the journal (JSON) and prints a report; exit 0 when the steady
state held throughout, 1 when it deviated, the experiment aborted or failed, 130 when interrupted
(every fault reverted first). Before running it reverts faults left behind by a runner that died.
``halt`` stops every running experiment and reverts every active fault. ``recover`` reverts what
dead runners left.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from livesite import runtime
from livesite.chaos.hypothesis import Hypothesis
from livesite.chaos.leases import FaultBook
from livesite.chaos.recovery import left_behind
from livesite.chaos.runner import Journal, Runner
from livesite.chaos.spec import Experiment, ExperimentFile
from livesite.cli import render, stores
from livesite.cli.signals import stop_on_signals
from livesite.config import load, load_document
from livesite.errors import UsageError
from livesite.store import Store, open_store
from livesite.store.leases import open_leases

console = render.make_console()
StoreURL = Annotated[
    str | None, typer.Option(help="Store URL (default: the store of the experiment's config).")
]


def _experiment(file: Path, name: str | None) -> Experiment:
    loaded = load_document(file, ExperimentFile)
    found = loaded.get(name)
    if found is None:
        known = ", ".join(e.name for e in loaded.experiments)
        raise UsageError(f"name the experiment to run in {file} (--name)", hint=f"experiments there: {known}")
    return found


def _config_path(file: Path, experiment: Experiment) -> Path | None:
    if experiment.config is None:
        return None
    return experiment.config if experiment.config.is_absolute() else file.parent / experiment.config


def _store(file: Path | None, config: Path | None, store: str | None) -> tuple[str, Path]:
    if store is not None:
        return stores.from_option(store), Path.cwd()
    if config is not None:
        return stores.from_config(config)
    return stores.DEFAULT_URL, file.parent if file is not None else Path.cwd()


def _report(journal: Journal) -> None:
    state = "deviated" if journal.deviated else "steady"
    console.print(
        render.safe(
            f"{journal.experiment}: {journal.status}, {state}"
            + (f" — {journal.reason}" if journal.reason else ""),
            max_chars=None,
        )
    )
    for when, seen in (("before", journal.before), ("after", journal.after)):
        if seen is not None:
            console.print(
                render.safe(
                    f"  steady state {when}: {'holds' if seen.holds else 'BROKEN'} ({seen.reason})",
                    max_chars=None,
                )
            )
    for run in journal.faults:
        done = f"reverted {run.reverted_at:%H:%M:%S}" if run.reverted_at else f"NOT reverted: {run.error}"
        when = f"{run.injected_at:%H:%M:%S}" if run.injected_at else "never injected"
        console.print(
            render.safe(f"  {run.type} on {run.target.description}: injected {when}, {done}", max_chars=None)
        )


async def _book(url: str, base_dir: Path) -> tuple[Store, FaultBook]:
    opened = await open_store(url, base_dir=base_dir)
    try:
        return opened, FaultBook(await open_leases(opened))
    except BaseException:
        await opened.close()
        raise


def run(
    experiment_file: Annotated[Path, typer.Argument(metavar="EXP.yaml", help="The experiments file.")],
    name: Annotated[str | None, typer.Option(help="Which experiment (when the file has several).")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan with its resolved targets; touch nothing.")
    ] = False,
    journal_path: Annotated[
        Path | None, typer.Option("--journal", help="Where the journal goes (JSON).")
    ] = None,
    store: StoreURL = None,
) -> None:
    """Run a chaos experiment: steady state, faults (always reverted), steady state again."""
    experiment = _experiment(experiment_file, name)
    config_path = _config_path(experiment_file, experiment)
    config = load(config_path) if config_path is not None else None
    url, base_dir = _store(experiment_file, config_path, store)

    async def main() -> Journal | None:
        opened, book = await _book(url, base_dir)
        hypothesis = None
        try:
            if config is not None and experiment.steady_state is not None:
                hypothesis = Hypothesis(config, experiment.steady_state)
            runner = Runner(
                experiment,
                book,
                hypothesis,
                on_event=lambda text: console.print(render.safe(text, max_chars=None)),
            )
            if dry_run:
                for planned in await runner.plan():
                    console.print(
                        f"step {planned.step + 1}: {planned.type} for {planned.duration_seconds:g}s (lease {planned.ttl_seconds:g}s), {len(planned.targets)} of {planned.candidates} candidates:"
                    )
                    for target in planned.targets:
                        console.print(render.safe(f"  {target.description}", max_chars=None))
                return None
            reverted, errors = await left_behind(book)
            for held in reverted:
                console.print(
                    render.safe(f"recovered a fault left behind: {held.target.description}", max_chars=None)
                )
            for error in errors:
                console.print(render.safe(f"could not recover: {error}", max_chars=None))
            with stop_on_signals() as stop:
                task = asyncio.create_task(runner.run())
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    runner.interrupt.set()  # the runner stops at its next look and reverts everything
                stopper.cancel()
                return await task
        finally:
            if hypothesis is not None:
                hypothesis.close()
            await opened.close()

    journal = runtime.run(main())
    if journal is None:
        return
    target = journal_path or Path(f"chaos-journal-{experiment.name}.json")
    target.write_text(json.dumps(journal.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    _report(journal)
    console.print(f"journal: {target}")
    if journal.status == "interrupted":
        raise typer.Exit(130)
    raise typer.Exit(0 if journal.status == "completed" and not journal.deviated else 1)


StoreOption = Annotated[str | None, typer.Option(help="Store URL (default: sqlite:///livesite.db).")]
ConfigOption = Annotated[Path | None, typer.Option(help="A config whose store to use.")]


def _revert(store: str | None, config: Path | None, halting: bool, done: str) -> None:
    url, base_dir = _store(None, config, store)

    async def main() -> tuple[int, list[str]]:
        opened, book = await _book(url, base_dir)
        try:
            reverted, errors = await (book.halt() if halting else left_behind(book))
            return len(reverted), errors
        finally:
            await opened.close()

    count, errors = runtime.run(main())
    console.print(done.format(count=count))
    for error in errors:
        console.print(render.safe(f"could not revert: {error}", max_chars=None))
    raise typer.Exit(1 if errors else 0)


def halt(store: StoreOption = None, config: ConfigOption = None) -> None:
    """Stop every running experiment and revert every active fault, now."""
    _revert(
        store, config, True, "halted: {count} fault(s) reverted; running experiments stop at their next look"
    )


def recover(store: StoreOption = None, config: ConfigOption = None) -> None:
    """Revert the faults that runners which died left behind (expired leases, dead holders)."""
    _revert(store, config, False, "recovered: {count} fault(s) reverted")


def register(app: typer.Typer) -> None:
    """Add run, halt and recover to the ``chaos`` group."""
    app.command("run")(run)
    app.command("halt")(halt)
    app.command("recover")(recover)
