"""Every renderer of Results survives what a target can put in them, on a real terminal console.

The live table of `livesite monitor` is `results_table` refreshed every second, so it is covered here
with the others: rich markup and escape sequences in a reason or a revision come out as plain text.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from rich.console import Console

from livesite.cli import render
from livesite.results import AssertionOutcome, Failure, FailureKind, Result, Status

HOSTILE = "[/] [bold red]x[/] \x1b[2J\x1b]0;title\x07 line one\nline two :smile: \x00\x9b1m \u202eevil"


def hostile_results() -> list[Result]:
    at = datetime(2026, 11, 29, tzinfo=UTC)
    return [
        Result(
            check="evil",
            kind="http",
            zone="zone-a",
            started_at=at,
            duration_seconds=0.1,
            status=Status.failed,
            revision="[red]v1[/red]\x1b[31m",
            assertions=[AssertionOutcome(expr="body contains 'x'", observed=HOSTILE, passed=False)],
        ),
        Result(
            check="broken",
            kind="tcp",
            zone="zone-b",
            started_at=at,
            duration_seconds=0.1,
            status=Status.error,
            failure=Failure(kind=FailureKind.connect, message=HOSTILE),
        ),
    ]


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=300, color_system="truecolor"), out


def assert_plain(text: str) -> None:
    for sequence in ("\x1b[2J", "\x1b]0;", "\x07", "\x00", "\x9b", "\u202e", "😄"):
        assert sequence not in text, f"{sequence!r} got through"


def test_the_table_the_live_monitor_refreshes_shows_markup_as_written() -> None:
    console, out = terminal()
    console.print(render.results_table(hostile_results(), title="livesite monitor (latest) [/]"))
    text = out.getvalue()
    assert_plain(text)
    assert "[/] [bold red]x[/]" in text and "[red]v1[/red]" in text and ":smile:" in text


def test_plain_lines_and_reasons_are_one_bounded_line_each() -> None:
    console, out = terminal()
    long = [
        r.model_copy(
            update={"assertions": [a.model_copy(update={"observed": HOSTILE * 100}) for a in r.assertions]}
        )
        for r in hostile_results()
    ]
    for line in [*render.result_lines(long), *render.reasons(long)]:
        console.print(line, soft_wrap=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert all(len(line) <= render.MAX_LINE_CHARS + 100 for line in lines)
    assert_plain(out.getvalue())
    assert "line one line two" in out.getvalue()


def test_junit_replaces_what_xml_cannot_hold() -> None:
    suite = ET.fromstring(render.junit(hostile_results()).encode())
    failure = suite.find("testcase[@name='evil']/failure")
    assert failure is not None and "[/] [bold red]x[/]" in (failure.get("message") or "")
    assert "\ufffd" in (failure.text or "")


def test_printable_keeps_tabs_and_line_breaks_only_when_asked() -> None:
    assert render.printable("a\tb\nc\x1b[0m") == "a b c[0m"
    assert render.printable("a\tb\nc\x07", one_line=False) == "a\tb\nc"
    assert render.printable("x" * 10, max_chars=5) == "xxxx…"
