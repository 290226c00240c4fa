"""How results look on a terminal, in JSON and in JUnit XML. No decisions are made here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.table import Table

from livesite.monitor.plan import Plan
from livesite.results import Result, Status
from livesite.store.base import Uptime

STYLE = {Status.ok: "green", Status.degraded: "yellow", Status.failed: "red", Status.error: "bold red"}


def results_table(results: Sequence[Result], title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False)
    for column in ("check", "zone", "status", "time", "code", "revision", "why"):
        table.add_column(column, overflow="fold")
    for r in results:
        why = "" if r.status is Status.ok else r.reason()
        if len(r.attempts) > 1:
            why = f"{why} (after {len(r.attempts)} attempts)".strip()
        table.add_row(
            r.check,
            r.zone,
            f"[{STYLE[r.status]}]{r.status.value}[/]",
            f"{r.duration_seconds * 1000:.0f}ms",
            "" if r.status_code is None else str(r.status_code),
            r.revision,
            why,
        )
    return table


def result_lines(results: Sequence[Result]) -> list[str]:
    """One line per run, for logs and pipes where a wrapped table is hard to read and to grep."""
    mark = {Status.ok: "✓", Status.degraded: "~", Status.failed: "✗", Status.error: "✗"}
    lines = []
    for r in results:
        code = "" if r.status_code is None else f" {r.status_code}"
        revision = f" {r.revision}" if r.revision else ""
        why = "" if r.status is Status.ok else f" — {r.reason()}"
        lines.append(
            f"{mark[r.status]} {r.check} @ {r.zone}: {r.status.value} {r.duration_seconds * 1000:.0f}ms{code}{revision}{why}"
        )
    return lines


def summary(results: Sequence[Result]) -> str:
    counts = {s: sum(1 for r in results if r.status is s) for s in Status}
    parts = [f"[{STYLE[s]}]{n} {s.value}[/]" for s, n in counts.items() if n]
    return f"{len(results)} runs: " + ", ".join(parts) if results else "no checks ran"


def reasons(results: Sequence[Result]) -> list[str]:
    """One unwrapped line per run that did not pass cleanly, for logs where tables wrap."""
    return [
        f"{'✗' if not r.passed else '~'} {r.check} @ {r.zone}: {r.reason()}"
        for r in results
        if r.status is not Status.ok
    ]


def results_json(results: Sequence[Result]) -> str:
    return json.dumps([r.model_dump(mode="json") for r in results], indent=2)


def junit(results: Sequence[Result]) -> str:
    """JUnit XML: one testcase per (check, zone), so CI systems show which one broke and why."""
    failures = sum(1 for r in results if r.status is Status.failed)
    errors = sum(1 for r in results if r.status is Status.error)
    suite = ET.Element(
        "testsuite",
        name="livesite",
        tests=str(len(results)),
        failures=str(failures),
        errors=str(errors),
        time=f"{sum(r.duration_seconds for r in results):.3f}",
    )
    for r in results:
        case = ET.SubElement(
            suite, "testcase", classname=f"livesite.{r.zone}", name=r.check, time=f"{r.duration_seconds:.3f}"
        )
        if r.status in (Status.failed, Status.error):
            tag = "failure" if r.status is Status.failed else "error"
            kind = r.failure.kind.value if r.failure else "assertion"
            node = ET.SubElement(case, tag, message=r.reason(), type=kind)
            node.text = "\n".join(a.describe() for a in r.assertions if not a.passed) or r.reason()
        elif r.status is Status.degraded:
            ET.SubElement(case, "system-out").text = "degraded: " + r.reason()
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def plan_table(plan: Plan) -> Table:
    table = Table(title=f"plan: {len(plan.jobs)} runs")
    for column in ("check", "kind", "zone", "interval", "timeout", "retries", "thresholds"):
        table.add_column(column)
    for job in plan.jobs:
        table.add_row(
            job.check.name,
            job.check.kind,
            job.zone,
            f"{job.interval_seconds:g}s",
            f"{job.timeout_seconds:g}s",
            f"{job.retries.attempts} ({job.retries.strategy})" if job.retries.attempts > 1 else "none",
            f"down after {job.failure_threshold}, up after {job.success_threshold}",
        )
    return table


def uptime_line(console: Console, label: str, uptime: Uptime) -> None:
    ratio = uptime.ratio
    text = "no data" if ratio is None else f"{ratio * 100:.3f}% of {uptime.total} runs"
    console.print(f"uptime {label}: {text}")
