"""``livesite``: the entry point. Exit codes are part of the contract (docs/cli.md):
0 ok · 1 a check or verdict failed · 2 usage or config error · 3 internal error ·
4 store unavailable · 130 interrupted.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.text import Text

from livesite import runtime
from livesite.cli import render, stores
from livesite.cli.analyze import analyze as analyze_command
from livesite.cli.chaos import app as chaos_app
from livesite.cli.chaos_run import register as register_chaos
from livesite.cli.demo import app as demo_app
from livesite.cli.links import links as links_command
from livesite.cli.monkey import monkey
from livesite.cli.partners import partners
from livesite.cli.rollout import app as rollout_app
from livesite.cli.router import router as router_command
from livesite.cli.signals import stop_on_signals
from livesite.cli.users import app as users_app
from livesite.config import Config, load
from livesite.errors import LivesiteError, UsageError
from livesite.monitor import Monitor, Plan, plan, run_once
from livesite.results import Result

HELP = "Testing in production: synthetic checks, rollouts and chaos that share one Result."

app = typer.Typer(
    name="livesite",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = render.make_console()
errors = render.make_console(stderr=True)

# Click's usage errors (no such option, missing argument) derive from ClickException. typer re-exports
# click's BadParameter, whether from click itself or from the copy newer typers vendor; its ancestry
# names the base class without importing a private module that some typer versions lack.
_ClickException: type[Exception] = next(
    (c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"), typer.BadParameter
)


def _version() -> str:
    from importlib.metadata import version as dist_version

    return f"livesite {dist_version('livesite')}"


def _print_version(value: bool) -> None:
    if value:
        console.print(_version(), highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Testing in production: synthetic checks, rollouts and chaos that share one Result."""


ConfigPath = Annotated[Path, typer.Argument(help="A YAML config file, or a directory of them.")]
Checks = Annotated[list[str] | None, typer.Option("--check", "-c", help="Only this check (repeatable).")]
Zones = Annotated[list[str] | None, typer.Option("--zone", "-z", help="Only this zone (repeatable).")]


DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the plan, run nothing.")]


def _planned(
    config: Path, checks: list[str] | None, zones: list[str] | None, dry_run: bool
) -> tuple[Config, Plan] | None:
    """Load and plan; with ``dry_run``, print the plan and return None (nothing is to run)."""
    loaded = load(config)
    runs = plan(loaded, checks or (), zones or ())
    if dry_run:
        console.print(render.plan_table(runs))
        return None
    return loaded, runs


@app.command()
def validate(config: ConfigPath) -> None:
    """Check a config without running anything. Exits 0 when valid, 2 otherwise."""
    loaded = load(config)
    runs = plan(loaded)
    console.print(
        f"[green]ok[/]: {len(loaded.checks)} checks, {len(loaded.zone_names())} zones, {len(runs.jobs)} runs per round"
    )


@app.command()
def check(
    config: ConfigPath,
    check: Checks = None,
    zone: Zones = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print Results as JSON.")] = False,
    junit: Annotated[Path | None, typer.Option("--junit", help="Also write JUnit XML here.")] = None,
    dry_run: DryRun = False,
    concurrency: Annotated[int, typer.Option(min=1, help="Runs at once.")] = 50,
    store: Annotated[
        str | None,
        typer.Option(help="Also keep the Results in this store; a relative SQLite path is from here."),
    ] = None,
) -> None:
    """Run checks once and exit 0 when all pass, 1 when any fails: a gate for deploy pipelines."""
    planned = _planned(config, check, zone, dry_run)
    if planned is None:
        return
    loaded, runs = planned
    if junit is not None:
        _check_report_path(junit)  # before the run: a typo must not cost a whole run's results
    progress = _progress(len(runs.jobs), quiet=as_json)
    with progress:
        results = runtime.run(
            run_once(
                loaded,
                runs,
                concurrency=concurrency,
                on_result=lambda _: progress.advance_one(),
                store_url=stores.from_option(store) if store else None,
            )
        )
    if junit is not None:
        try:
            junit.write_text(render.junit(results), encoding="utf-8")
        except OSError as e:
            raise UsageError(
                f"cannot write the JUnit report {junit}: {e.strerror}", hint="pass --junit a writable path"
            ) from None
    if as_json:
        print(render.results_json(results))
    else:
        _print_results(results)
        console.print(render.summary(results))
    if not all(r.passed for r in results):
        raise typer.Exit(1)


def _check_report_path(path: Path) -> None:
    folder = path.parent
    if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        why = "is a folder" if path.is_dir() else f"folder {folder} does not exist or is not writable"
        raise UsageError(f"cannot write the JUnit report {path}: {why}", hint="pass --junit a writable path")


def _print_results(results: list[Result], title: str | None = None) -> None:
    """A table on a terminal; one line per run in logs and pipes, where tables wrap."""
    if console.is_terminal:
        console.print(render.results_table(results, title=title))
        lines = render.reasons(results)
    else:
        lines = ([render.safe(title)] if title else []) + render.result_lines(results)
    for line in lines:
        console.print(line, soft_wrap=True)


class _Progress:
    """A progress bar on a terminal for long runs; silent otherwise."""

    def __init__(self, total: int, enabled: bool) -> None:
        from rich.progress import Progress

        self.enabled = enabled
        self.progress = Progress(console=errors, transient=True)
        self.task = self.progress.add_task("checking", total=total)

    def advance_one(self) -> None:
        self.progress.advance(self.task)

    def __enter__(self) -> _Progress:
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()


def _progress(total: int, quiet: bool) -> _Progress:
    return _Progress(total, enabled=errors.is_terminal and not quiet and total > 5)


@app.command()
def monitor(
    config: ConfigPath,
    check: Checks = None,
    zone: Zones = None,
    store: Annotated[
        str | None,
        typer.Option(
            help="Results store URL (default: the config's store.url); relative SQLite paths from here."
        ),
    ] = None,
    listen: Annotated[
        str | None, typer.Option(help="host:port for /metrics, the API and the status page.")
    ] = None,
    dry_run: DryRun = False,
) -> None:
    """Run checks continuously: store results, serve /metrics and a live status, until SIGTERM or Ctrl-C."""
    from livesite.store import open_store
    from livesite.web.serve import serve
    from livesite.web.server import parse_listen

    planned = _planned(config, check, zone, dry_run)
    if planned is None:
        return
    loaded, runs = planned
    parse_listen(listen or loaded.monitor.listen)  # a bad address is a usage error before anything opens
    _log_to_stderr()

    async def main() -> Monitor:
        store_url = stores.from_option(store) if store else loaded.store.url
        opened = await open_store(store_url, base_dir=loaded.base_dir)
        live = _LiveStatus(enabled=console.is_terminal)

        def ready(m: Monitor, url: str) -> None:
            # Everything that lives as long as the process exists now (config, plan, contexts) and
            # no check has run yet: move it out of the collector's sight, or every full collection
            # walks it all and stalls the loop (bench/RESULTS.md: 1.4 s pauses at 10,000 checks
            # before, under 100 ms after). The process is ours, so this is the command's decision.
            gc.collect()
            gc.freeze()
            errors.print(f"livesite monitor: {len(runs.jobs)} runs, status and /metrics at {url}")
            live.start(m)

        try:
            with stop_on_signals() as stop:
                return await serve(loaded, runs, opened, stop, listen=listen, on_ready=ready)
        finally:
            live.stop()

    finished = runtime.run(main())
    errors.print(f"stopped after {finished.scheduler.started} runs")


class _OneLineFormatter(logging.Formatter):
    """Log messages quote what targets said (a state change's reason): each is one line with no control
    characters, so a target can neither forge log lines nor send escape sequences to the terminal. A
    traceback appended to a record keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return render.printable(super().formatMessage(record), max_chars=None)


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


class _LiveStatus:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.live: Live | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self, monitor: Monitor) -> None:
        if not self.enabled:
            return
        self.live = Live(console=console, refresh_per_second=2)
        self.live.start()

        async def refresh() -> None:
            while True:
                latest = [s.last for s in monitor.snapshot() if s.last is not None]
                assert self.live is not None
                self.live.update(render.results_table(latest[:60], title="livesite monitor (latest)"))
                await asyncio.sleep(1)

        self.task = asyncio.create_task(refresh())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.live is not None:
            self.live.stop()


@app.command()
def history(
    check_name: Annotated[str, typer.Argument(metavar="CHECK", help="The check to show.")],
    config: Annotated[
        Path | None, typer.Option(help="Config whose store.url to read (only its store section is read).")
    ] = None,
    store: Annotated[
        str | None, typer.Option(help="Results store URL; a relative SQLite path is from here.")
    ] = None,
    zone: Annotated[str | None, typer.Option("--zone", "-z")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recent results and uptime of one check."""
    from livesite.store import open_store, redact_url
    from livesite.store.base import ResultQuery, Uptime

    if store is not None:
        url, base_dir = stores.from_option(store), Path.cwd()
    elif config is not None:
        url, base_dir = stores.from_config(config)
    else:
        url, base_dir = stores.DEFAULT_URL, Path.cwd()

    async def main() -> tuple[list[Result], list[tuple[str, Uptime]]]:
        opened = await open_store(url, base_dir=base_dir, create=False)
        try:
            found = await opened.results(ResultQuery(check=check_name, zone=zone, limit=limit))
            now = datetime.now(tz=UTC)
            windows = [
                (label, await opened.uptime(check_name, zone, now - span))
                for label, span in (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)))
            ]
            return found, windows
        finally:
            await opened.close()

    found, windows = runtime.run(main())
    if as_json:
        print(render.results_json(found))
        return
    if not found:
        errors.print(Text(render.printable(f"no results for check {check_name!r} in {redact_url(url)}")))
        raise typer.Exit(1)
    _print_results(found, title=f"{check_name}: last {len(found)} results")
    for label, uptime in windows:
        render.uptime_line(console, label, uptime)


app.add_typer(demo_app, name="demo")
app.command()(partners)
app.add_typer(rollout_app, name="rollout")
register_chaos(chaos_app)
app.add_typer(chaos_app, name="chaos")
app.command()(monkey)
app.command(name="links")(links_command)
app.command("analyze")(analyze_command)
app.add_typer(users_app, name="users")
app.command(name="router")(router_command)


@app.command()
def version() -> None:
    """Print the version (also: livesite --version)."""
    console.print(_version(), highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map every error to its exit code; never a traceback for a user error."""
    try:
        code = app(args=argv, standalone_mode=False)
    except LivesiteError as e:
        errors.print(render.error_text(str(e)), soft_wrap=True)
        return e.exit_code
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        errors.print("aborted")
        return 130
    except _ClickException as e:  # click's usage errors carry their own exit code (2)
        e.show(file=sys.stderr)  # type: ignore[attr-defined]
        return int(e.exit_code)  # type: ignore[attr-defined]
    except Exception as e:  # a bug: say so with its traceback, and never exit 1 ("a check failed")
        traceback.print_exc(file=sys.stderr)
        errors.print(render.error_text(f"internal error: {type(e).__name__}: {e}"), soft_wrap=True)
        return 3
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
