"""``livesite partners CONFIG``: each third party's availability and latency, and its incidents.

Exit 1 when a partner has an open incident, so a script (or a partner's status page) can ask.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from livesite import runtime
from livesite.cli import render, stores
from livesite.config import load
from livesite.errors import UsageError
from livesite.incidents import PartnerIncident, PartnerSummary

console = render.make_console()


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{1000 * value:.0f} ms"


def _table(found: list[PartnerSummary], hours: float) -> Table:
    table = Table(title=f"partners, last {hours:g} h")
    for column in ("partner", "availability", "p50", "p95", "evidence", "incident", "contact"):
        table.add_column(column)
    for s in found:
        incident = s.open_incident
        opened = (
            render.safe(
                f"OPEN since {incident.opened_at:%Y-%m-%d %H:%M:%S} ({incident.failures} failures)",
                "bold red",
            )
            if incident is not None
            else render.safe("none", "green")
        )
        table.add_row(
            render.safe(s.partner),
            _percent(s.availability),
            _ms(s.latency_p50_seconds),
            _ms(s.latency_p95_seconds),
            f"{s.evidence - s.failed}/{s.evidence}",
            opened,
            render.safe(s.contact or "-"),
        )
    return table


def _incident_lines(incident: PartnerIncident) -> list[str]:
    first, last = incident.first_failure, incident.last_failure
    return [
        f"{incident.partner}: incident {incident.id} {incident.state}, opened {incident.opened_at:%Y-%m-%d %H:%M:%S}",
        f"  first failure {first.at:%H:%M:%S} {first.check}@{first.zone} {first.target}: {first.failure}",
        f"  last failure  {last.at:%H:%M:%S} {last.check}@{last.zone} {last.target}: {last.failure}",
        f"  seen by {', '.join(incident.checks)}; {incident.failures} failures",
    ]


def partners(
    config: Annotated[Path, typer.Argument(help="The config naming the partners (and the store).")],
    store: Annotated[str | None, typer.Option(help="Results store URL (default: the config's).")] = None,
    hours: Annotated[float, typer.Option(min=0.01, max=24 * 366, help="The window, in hours.")] = 24,
    partner: Annotated[str | None, typer.Option(help="Only this partner.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Summaries and open incidents as JSON.")] = False,
) -> None:
    """Each partner's availability, latency and open incident (exit 1 while one is open)."""
    from livesite.monitor.partners import summaries
    from livesite.store import open_store
    from livesite.store.incidents import incidents_of

    loaded = load(config)
    if partner is not None and partner not in loaded.partner_names():
        known = ", ".join(loaded.partner_names()) or "none"
        raise UsageError(f"no partner named {partner!r} in {config}", hint=f"partners: {known}")
    if store is not None:
        url, base_dir = stores.from_option(store), Path.cwd()
    else:
        url, base_dir = stores.from_config(config)

    async def main() -> list[PartnerSummary]:
        opened = await open_store(url, base_dir=base_dir, create=False)
        try:
            since = datetime.now(tz=UTC) - timedelta(hours=hours)
            return await summaries(loaded, opened, incidents_of(opened), since, partner)
        finally:
            await opened.close()

    found = runtime.run(main())
    if as_json:
        print(json.dumps([s.model_dump(mode="json") for s in found], indent=2))
    else:
        console.print(_table(found, hours))
        for s in found:
            if s.open_incident is not None:
                for line in _incident_lines(s.open_incident):
                    console.print(render.safe(line, max_chars=None), soft_wrap=True)
    if any(s.open_incident is not None for s in found):
        raise typer.Exit(1)
