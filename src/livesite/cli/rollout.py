"""``livesite rollout start|status|promote|abort|pause|resume NAME``.

``start`` runs the controller in the foreground until the rollout is promoted (exit 0), rolled back,
aborted or frozen (exit 1); Ctrl-C leaves it held where it is, and ``start`` again resumes it. The
other commands reach a running controller through the store; ``abort`` with no controller alive
sends all traffic to stable itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer

from livesite import runtime
from livesite.cli import render, stores
from livesite.cli.signals import stop_on_signals
from livesite.clock import SystemClock
from livesite.config import load_document
from livesite.errors import UsageError
from livesite.rollout import commands
from livesite.rollout.analyzer import RolloutAnalyzer
from livesite.rollout.controller import Controller
from livesite.rollout.spec import RolloutFile, RolloutSpec, router_of
from livesite.store import Store, open_store
from livesite.store.rollouts import CommandName, Decision, RolloutRecord, RolloutStore, rollouts_of

app = typer.Typer(help="Canary and blue-green rollouts judged from live signals (docs/rollouts.md).")
console = render.make_console()

Name = Annotated[str, typer.Argument(help="The rollout's name in the rollouts file.")]
File = Annotated[Path, typer.Option("--file", "-f", help="The rollouts file.")]
StoreURL = Annotated[str | None, typer.Option(help="Store URL (default: the store of the spec's config).")]
DEFAULT_FILE = Path("rollouts.yaml")


def _spec(file: Path, name: str) -> RolloutSpec:
    found = load_document(file, RolloutFile).get(name)
    if found is None:
        known = ", ".join(r.name for r in load_document(file, RolloutFile).rollouts)
        raise UsageError(f"no rollout named {name!r} in {file}", hint=f"rollouts there: {known}")
    return found


def _store_url(file: Path, config: Path | None, store: str | None) -> tuple[str, Path]:
    if store is not None:
        return stores.from_option(store), Path.cwd()
    if config is not None:
        return stores.from_config(config if config.is_absolute() else file.parent / config)
    return stores.DEFAULT_URL, file.parent


def _line(decision: Decision) -> str:
    weights = ", ".join(f"{k} {v}%" for k, v in decision.weights.items())
    text = f"{decision.at:%H:%M:%S} {decision.phase:<11} {decision.action}"
    if decision.reason:
        text += f": {decision.reason}"
    text += f"  [{weights}]"
    for v in decision.verdicts:
        text += f"\n    {v.metric}: {v.verdict.outcome.upper()} — {v.verdict.reason}"
    return text


async def _open(url: str, base_dir: Path) -> tuple[Store, RolloutStore]:
    opened = await open_store(url, base_dir=base_dir)
    found = rollouts_of(opened)
    if found is None:
        await opened.close()
        raise UsageError(f"the store {url} cannot keep rollouts")
    return opened, found


@app.command()
def start(
    name: Name,
    file: File = DEFAULT_FILE,
    store: StoreURL = None,
    restart: Annotated[bool, typer.Option(help="Start over even if the rollout finished.")] = False,
) -> None:
    """Run the rollout until it is promoted (exit 0) or rolled back, aborted or frozen (exit 1)."""
    spec = _spec(file, name)
    url, base_dir = _store_url(file, spec.config, store)

    async def main() -> RolloutRecord | None:
        opened, rollouts = await _open(url, base_dir)
        try:
            router = router_of(spec.router)
            analyzer = RolloutAnalyzer(spec, router, SystemClock(), opened)
            controller = Controller(
                spec,
                router,
                rollouts,
                analyzer,
                on_decision=lambda d: console.print(render.safe(_line(d), max_chars=None)),
            )
            with stop_on_signals() as stop:
                run = asyncio.create_task(controller.run(restart=restart))
                stopped = asyncio.create_task(stop.wait())
                await asyncio.wait([run, stopped], return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                if not run.done():
                    run.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await run
                    return None
                return run.result()
        finally:
            await opened.close()

    record = runtime.run(main())
    if record is None:
        console.print(f"interrupted: {name} is held where it was; `livesite rollout start {name}` resumes it")
        raise typer.Exit(130)
    console.print(f"{name}: {record.phase}" + (f" ({record.reason})" if record.reason else ""))
    raise typer.Exit(0 if record.phase == "promoted" else 1)


@app.command()
def status(
    name: Name,
    file: File = DEFAULT_FILE,
    store: StoreURL = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Decisions to show.")] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Where the rollout is, and its last decisions with their Verdicts."""
    spec = _spec(file, name)
    url, base_dir = _store_url(file, spec.config, store)

    async def main() -> tuple[RolloutRecord | None, list[Decision]]:
        opened, rollouts = await _open(url, base_dir)
        try:
            return await rollouts.record(name), await rollouts.decisions(name, limit)
        finally:
            await opened.close()

    record, decisions = runtime.run(main())
    if as_json:
        print(
            json.dumps(
                {
                    "record": record.model_dump(mode="json") if record else None,
                    "decisions": [d.model_dump(mode="json") for d in decisions],
                },
                indent=2,
            )
        )
        return
    if record is None:
        console.print(f"{name}: not started")
        raise typer.Exit(1)
    console.print(
        f"{name}: {record.phase}, step {record.step}, canary weight {record.weight}%"
        + (f" — {record.reason}" if record.reason else ""),
        highlight=False,
    )
    for decision in reversed(decisions):
        console.print(render.safe(_line(decision), max_chars=None), soft_wrap=True)


def _send(name: str, file: Path, store: str | None, command: CommandName) -> None:
    spec = _spec(file, name)
    url, base_dir = _store_url(file, spec.config, store)

    async def main() -> str:
        opened, rollouts = await _open(url, base_dir)
        try:
            return await commands.send(spec, rollouts, command, router_of(spec.router))
        finally:
            await opened.close()

    console.print(runtime.run(main()), highlight=False)


@app.command()
def promote(name: Name, file: File = DEFAULT_FILE, store: StoreURL = None) -> None:
    """Skip the remaining steps and promote the canary (through its gates)."""
    _send(name, file, store, "promote")


@app.command()
def abort(name: Name, file: File = DEFAULT_FILE, store: StoreURL = None) -> None:
    """Send all traffic to stable in one step and stop the rollout."""
    _send(name, file, store, "abort")


@app.command()
def pause(name: Name, file: File = DEFAULT_FILE, store: StoreURL = None) -> None:
    """Hold the rollout where it is (analysis stops counting) until resume."""
    _send(name, file, store, "pause")


@app.command()
def resume(name: Name, file: File = DEFAULT_FILE, store: StoreURL = None) -> None:
    """Continue after a pause or a hold (re-applying the recorded weights)."""
    _send(name, file, store, "resume")
