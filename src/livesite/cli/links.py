"""``livesite links START_URL...``: a one-off crawl that lists broken links. Parse, run the links kind, render.

The crawl runs as a ``links`` check through the same frame as every check, so what it prints is
redacted like any Result. Exit codes: 0 no broken link, 1 at least one, 2 usage error. On a terminal
a table; in a pipe one broken link per line as ``PAGE<TAB>LINK<TAB>REASON`` (``-`` for the page of a
start URL); with ``--json`` one JSON document.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from livesite import runtime
from livesite.checks import RunContext, run_check
from livesite.checks.context import Resources
from livesite.checks.links import LinksCheck
from livesite.cli import render
from livesite.config.models import Zone
from livesite.errors import UsageError
from livesite.results import LinksObservation, Result

console = render.make_console()
errors = render.make_console(stderr=True)


def _spec(start: list[str], **options: object) -> LinksCheck:
    try:
        return LinksCheck.model_validate({"kind": "links", "name": "links", "start": start, **options})
    except ValidationError as e:
        problem = e.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        hint = None if "hint:" in message else "livesite links https://shop.example.com/"
        raise UsageError(f"{where}: {message}", hint=hint) from None


def _field(text: str) -> str:
    """One TSV field: no tab, no line break, no control character (a hostile site chose these URLs)."""
    return render.printable(text, max_chars=None)


def _summary(result: Result, obs: LinksObservation) -> str:
    line = (
        f"{obs.pages} pages, {obs.links_checked} links checked, {obs.broken_total} broken "
        f"in {result.duration_seconds:.1f}s"
    )
    if obs.skipped:
        line += f", {obs.skipped} not checked (robots.txt, --max-pages or the deadline)"
    return line


def links(
    start: Annotated[
        list[str],
        typer.Argument(metavar="START_URL...", help="Start URLs: the crawl stays on their origins."),
    ],
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Requests in flight.")] = 16,
    depth: Annotated[int, typer.Option(min=0, help="Clicks from a start URL to the last page followed.")] = 5,
    max_pages: Annotated[int, typer.Option(min=1, help="Pages crawled at most.")] = 10_000,
    include: Annotated[
        list[str] | None,
        typer.Option(help="Crawl URLs matching this regex (repeatable); default: same origin."),
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Neither crawl nor check URLs matching this regex (repeatable).")
    ] = None,
    rate: Annotated[float | None, typer.Option(min=0.001, help="Requests a second at most.")] = None,
    robots: Annotated[bool, typer.Option("--robots/--no-robots", help="Honour robots.txt.")] = True,
    external: Annotated[
        bool, typer.Option("--external/--no-external", help="Check links leaving the site.")
    ] = True,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds for the whole crawl.")] = 300.0,
    request_timeout: Annotated[float, typer.Option(min=0.01, help="Seconds for one request.")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Crawl a site and list its broken links (status, redirects, #fragments). Exits 1 if any."""
    spec = _spec(
        start,
        concurrency=concurrency,
        max_depth=depth,
        max_pages=max_pages,
        include=include or [],
        exclude=exclude or [],
        rate_per_second=rate,
        robots=robots,
        external=external,
        timeout=timeout,
        request_timeout=request_timeout,
        keep_broken=1_000_000,
    )
    result = runtime.run(_crawl(spec))
    obs = result.observation if isinstance(result.observation, LinksObservation) else LinksObservation()
    if as_json:
        document = {
            "status": result.status.value,
            "seconds": round(result.duration_seconds, 3),
            **obs.model_dump(exclude={"kind"}),
            "failure": result.failure.model_dump()
            if result.failure is not None and not obs.broken_total
            else None,
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    elif console.is_terminal:
        _table(obs)
        errors.print(Text(render.printable(_summary(result, obs))))
    else:
        for b in obs.broken:
            print(f"{_field(b.page) or '-'}\t{_field(b.link)}\t{_field(b.reason)}")
        errors.print(Text(render.printable(_summary(result, obs))))
    if not obs.broken_total and result.failure is not None:
        errors.print(render.error_text(result.reason()))  # stopped early, or a bug: say so
    if obs.broken_total:
        raise typer.Exit(1)


async def _crawl(spec: LinksCheck) -> Result:
    resources = Resources()
    try:
        return await run_check(spec, RunContext(zone=Zone(name="local"), resources=resources))
    finally:
        resources.close()


def _table(obs: LinksObservation) -> None:
    if not obs.broken:
        console.print(Text("no broken links", style="green"))
        return
    table = Table(title=f"{obs.broken_total} broken links", title_justify="left")
    table.add_column("page")
    table.add_column("link")
    table.add_column("reason", style="red")
    for b in obs.broken:
        table.add_row(render.safe(b.page or "(start URL)"), render.safe(b.link), render.safe(b.reason))
    console.print(table)
