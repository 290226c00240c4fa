"""Rendering of ``livesite demo`` (the scenario): live steps, state changes and the closing summary."""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from livesite import demo
from livesite.cli import render
from livesite.results import Result
from livesite.scenario import Summary
from livesite.states import CheckState, StateChange

_STATE_STYLE = {
    CheckState.up: "green",
    CheckState.degraded: "yellow",
    CheckState.down: "red",
    CheckState.unknown: "dim",
}


class RichReporter:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.t0 = time.monotonic()

    def _stamp(self) -> str:
        return f"[dim]{time.monotonic() - self.t0:5.1f}s[/]"

    def step(self, text: str) -> None:
        self.console.print(f"{self._stamp()} [bold]{text}[/]")

    def started(self, state: demo.DemoState) -> None:
        shops = len(state.shops())
        self.console.print(
            f"{self._stamp()}   {len(state.components)} processes up: {shops} shops, "
            f"zone-a {state.zone_url('zone-a')}, zone-b {state.zone_url('zone-b')}, partner {state.partner_url}"
        )

    def results(self, title: str, results: list[Result]) -> None:
        self.console.print(render.results_table(results, title=title))
        self.console.print(f"{self._stamp()}   {render.summary(results)}")

    def change(self, change: StateChange) -> None:
        if change.previous is CheckState.unknown and change.current is CheckState.up:
            return  # the first round coming up is not news
        style = _STATE_STYLE[change.current]
        why = "" if change.current is CheckState.up else f" — {render.printable(change.reason)}"
        # The reason quotes what the site answered: assembled as Text, never read as markup.
        self.console.print(
            Text.assemble(
                Text.from_markup(self._stamp()),
                "   ",
                (
                    f"{render.printable(change.check)} @ {render.printable(change.zone)}: "
                    f"{change.previous.value} → {change.current.value}",
                    style,
                ),
                why,
            )
        )

    def note(self, text: str) -> None:
        self.console.print(f"{self._stamp()}   {text}")

    def summary(self, s: Summary) -> None:
        summary(self.console, s)


def summary(console: Console, s: Summary) -> None:
    table = Table(title="what livesite caught")
    table.add_column("act")
    table.add_column("result")
    for act, ok in s.caught.items():
        table.add_row(act, "[green]caught[/]" if ok else "[red]missed[/]")
    console.print(table)
    uptime = Table(title=render.safe(f"uptime over the run ({s.runs} runs stored in {s.store_url})"))
    for column in ("check", "zone", "runs", "passed", "state now"):
        uptime.add_column(column)
    for (check, zone), u in sorted(s.uptime.items()):
        ratio = "n/a" if u.ratio is None else f"{u.ratio * 100:.1f}%"
        state = s.final_states.get((check, zone), CheckState.unknown)
        uptime.add_row(
            render.safe(check), render.safe(zone), str(u.total), ratio, Text(state.value, _STATE_STYLE[state])
        )
    console.print(uptime)
    if s.rollouts:
        canaries = Table(title="canaries on zone-a's front (router errors, judged every second)")
        for column in ("revision", "outcome", "time to decision", "why"):
            canaries.add_column(column)
        for r in s.rollouts:
            style = "green" if r.phase == "promoted" else "red"
            canaries.add_row(
                r.revision, Text(r.phase, style), f"{r.seconds:.1f}s", render.safe(r.reason or "-")
            )
        console.print(canaries)
    if s.chaos is not None:
        j = s.chaos
        held = "held" if not j.deviated else "BROKE"
        rounds = len(j.during)
        console.print(
            render.safe(
                f"chaos: {j.experiment} {j.status}; steady state {held} over {rounds} rounds during the fault"
                + (f" ({j.reason})" if j.reason else ""),
                max_chars=None,
            )
        )
    verdict = "[green]demo passed[/]" if s.passed else "[red]demo did not go as expected[/]"
    console.print(f"{verdict} in {s.seconds:.0f}s; {len(s.changes)} state changes recorded.")
    if s.kept:
        console.print(
            f"The demo production keeps running (zone-a {s.demo_state.zone_url('zone-a')}), and the monitor keeps "
            f"watching it: status page at {s.monitor_url} until Ctrl-C. Then:\n"
            f'  eval "$(livesite demo env --state-dir {s.demo_state.state_dir})"\n'
            "  livesite monitor examples/demo-checks.yaml   # status page at http://127.0.0.1:9109\n"
            f"  livesite demo down --state-dir {s.demo_state.state_dir}"
        )
    else:
        console.print(
            "Everything it started is stopped. Run `livesite demo --keep` to leave the shop running with its "
            "status page, or `livesite demo up` to start the shop by hand."
        )
