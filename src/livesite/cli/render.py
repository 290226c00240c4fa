"""How results look on a terminal, in JSON and in JUnit XML. No decisions are made here.

Everything a target, a config or a store hands us is external text: a header may hold ``[/]``, which
rich reads as markup, and a body may hold escape sequences that clear the screen or retitle the
window. So external text reaches rich only as :class:`rich.text.Text` (never parsed as markup or
emoji) after :func:`printable` has removed control characters, and reaches JUnit only after
:func:`xml_safe` has replaced what XML 1.0 cannot hold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.table import Table
from rich.text import Text

from livesite.monitor.plan import Plan
from livesite.results import Result, Status
from livesite.store.base import Uptime

STYLE = {Status.ok: "green", Status.degraded: "yellow", Status.failed: "red", Status.error: "bold red"}

# Longest piece of external text shown on one line (a reason, an observed value): a body echoed
# into a reason must not flood a terminal or a CI log.
MAX_LINE_CHARS = 400
# Rich cuts lines at 80 columns when it cannot ask a terminal; a pipe or a CI log has no width, so
# tables and lines are laid out this wide there, which in practice means not wrapped at all.
PIPE_WIDTH = 10_000

# C0 and C1 controls and DEL (ESC, BEL, backspace, ...) and the invisible characters that reorder or
# hide text (bidirectional overrides and isolates, zero-width characters, BOM).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_LINE_BREAKS = re.compile("[\t\n\r\x0b\x0c\x85\u2028\u2029]+")
# What XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def printable(text: str, *, one_line: bool = True, max_chars: int | None = MAX_LINE_CHARS) -> str:
    """``text`` safe to write to a terminal: no control characters, and by default one bounded line.

    With ``one_line``, tabs and line breaks become single spaces; otherwise they are kept (an error
    listing several config problems is several lines). ``max_chars`` cuts the rest with an ellipsis.
    """
    if one_line:
        text = _LINE_BREAKS.sub(" ", text)
    text = _CONTROL.sub("", text)
    if max_chars is not None and len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return text


def safe(text: str, style: str = "", *, max_chars: int | None = MAX_LINE_CHARS) -> Text:
    """External text as a rich Text: printed as written, never read as markup."""
    return Text(printable(text, max_chars=max_chars), style=style)


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids (most controls, ESC among them) replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def make_console(*, stderr: bool = False) -> Console:
    """A console as wide as the terminal, or :data:`PIPE_WIDTH` wide when output goes to a pipe or file."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console


def _why(r: Result) -> str:
    why = "" if r.status is Status.ok else r.reason()
    if len(r.attempts) > 1:
        why = f"{why} (after {len(r.attempts)} attempts)".strip()
    return why


def results_table(results: Sequence[Result], title: str | None = None) -> Table:
    table = Table(title=safe(title) if title else None, show_lines=False)
    for column in ("check", "zone", "status", "time", "code", "revision", "why"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(
            safe(r.check),
            safe(r.zone) + _who(r),
            Text(r.status.value, style=STYLE[r.status]),
            f"{r.duration_seconds * 1000:.0f}ms",
            str(r.http.status_code) if r.http is not None and r.http.status_code else "",
            safe(r.revision),
            safe(_why(r)),
        )
    return table


def _who(r: Result) -> str:
    """`` as free-eu-1 (free-eu)`` for a run as a fake user; nothing for a run as nobody in particular."""
    if r.user:
        return f" as {printable(r.user)} ({printable(r.cohort)})" if r.cohort else f" as {printable(r.user)}"
    return f" as {printable(r.cohort)}" if r.cohort else ""


def result_lines(results: Sequence[Result]) -> list[Text]:
    """One line per run, for logs and pipes where a wrapped table is hard to read and to grep."""
    mark = {Status.ok: "✓", Status.degraded: "~", Status.failed: "✗", Status.error: "✗"}
    lines = []
    for r in results:
        code = f" {r.http.status_code}" if r.http is not None and r.http.status_code else ""
        revision = f" {printable(r.revision)}" if r.revision else ""
        why = "" if r.status is Status.ok else f" — {printable(r.reason())}"
        lines.append(
            Text(
                f"{mark[r.status]} {printable(r.check)} @ {printable(r.zone)}{_who(r)}: {r.status.value} "
                f"{r.duration_seconds * 1000:.0f}ms{code}{revision}{why}"
            )
        )
    return lines


def summary(results: Sequence[Result]) -> str:
    counts = {s: sum(1 for r in results if r.status is s) for s in Status}
    parts = [f"[{STYLE[s]}]{n} {s.value}[/]" for s, n in counts.items() if n]
    return f"{len(results)} runs: " + ", ".join(parts) if results else "no checks ran"


def reasons(results: Sequence[Result]) -> list[Text]:
    """One unwrapped line per run that did not pass cleanly, for logs where tables wrap."""
    return [
        Text(
            f"{'✗' if not r.passed else '~'} {printable(r.check)} @ {printable(r.zone)}: "
            f"{printable(r.reason())}"
        )
        for r in results
        if r.status is not Status.ok
    ]


def results_json(results: Sequence[Result]) -> str:
    # json.dumps writes every control character as \uXXXX: a body's escape sequences stay inert.
    return json.dumps([r.model_dump(mode="json") for r in results], indent=2)


def junit(results: Sequence[Result]) -> str:
    """JUnit XML: one testcase per (check, zone), so CI systems show which one broke and why.

    Always well-formed: whatever a target answered, characters XML cannot hold are replaced.
    """
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
            suite,
            "testcase",
            classname=xml_safe(f"livesite.{r.zone}"),
            name=xml_safe(r.check),
            time=f"{r.duration_seconds:.3f}",
        )
        if r.status in (Status.failed, Status.error):
            tag = "failure" if r.status is Status.failed else "error"
            kind = r.failure.kind.value if r.failure else "assertion"
            node = ET.SubElement(case, tag, message=xml_safe(r.reason()), type=kind)
            node.text = xml_safe("\n".join(a.describe() for a in r.assertions if not a.passed) or r.reason())
        elif r.status is Status.degraded:
            ET.SubElement(case, "system-out").text = xml_safe("degraded: " + r.reason())
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def plan_table(plan: Plan) -> Table:
    table = Table(title=f"plan: {len(plan.jobs)} runs")
    for column in ("check", "kind", "zone", "interval", "timeout", "retries", "thresholds"):
        table.add_column(column)
    for job in plan.jobs:
        table.add_row(
            safe(job.check.name),
            job.check.kind,
            safe(job.zone) + (f" as {safe(job.identity.cohort)}" if job.identity.cohort else ""),
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


def error_text(message: str) -> Text:
    """``error: <message>`` for stderr; the message keeps its line breaks (several config errors)."""
    return Text.assemble(("error", "red"), ": ", printable(message, one_line=False, max_chars=20_000))
