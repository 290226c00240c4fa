"""What a target sends cannot take over a terminal, a CI log or a JUnit report.

The target answers with rich markup in its headers (`[/]` used to crash rich with a MarkupError) and
with escape sequences in its body (clear the screen, set the window title, ring the bell). Every
output shows them as inert text on one bounded line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from cli_runner import livesite, livesite_on_terminal, start_livesite
from prom_plugin import free_port

CLEAR_SCREEN = "\x1b[2J"
SET_TITLE = "\x1b]0;pwned\x07"
BODY = f"{CLEAR_SCREEN}{SET_TITLE}first line\nsecond line\r\nthird\x00[bold]x[/] \x9b31m" + "y" * 3000


class _Hostile(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = BODY.encode()
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Evil", "[/]")
        self.send_header("X-Version", "[red]v1[/red]")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[Path]:
    """A config whose one check fails against a target that answers with markup and escape sequences."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = tmp_path / "hostile.yaml"
    config.write_text(
        f"""
zones:
  - {{name: zone-a, base_url: "http://127.0.0.1:{server.server_address[1]}"}}
checks:
  - name: evil
    url: /
    assert: [status == 200, header.X-Evil == "ok", 'body contains "nope"']
"""
    )
    yield config
    server.shutdown()
    server.server_close()


def assert_inert(output: str) -> None:
    assert "Traceback" not in output and "MarkupError" not in output, output[-3000:]
    for sequence in (CLEAR_SCREEN, "\x1b]0;", "\x07", "\x00", "\x9b"):
        assert sequence not in output, f"{sequence!r} reached the output"


def test_check_on_a_terminal_prints_markup_and_escapes_from_a_target_as_plain_text(hostile: Path) -> None:
    shown = livesite_on_terminal("check", str(hostile))
    assert shown.returncode == 1, shown.output[-3000:]
    assert_inert(shown.output)
    assert "[red]v1[/red]" in shown.output  # the revision header, shown as written
    assert "observed [/]" in shown.output
    assert "╭" in shown.output or "┏" in shown.output  # it really drew a table: it saw a terminal


def test_history_on_a_terminal_prints_stored_markup_as_plain_text(hostile: Path, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'r.db'}"
    assert livesite("check", str(hostile), "--store", store).returncode == 1
    shown = livesite_on_terminal("history", "evil", "--store", store)
    assert shown.returncode == 0, shown.output[-3000:]
    assert_inert(shown.output)
    assert "observed [/]" in shown.output and "uptime 24h" in shown.output


def test_check_in_a_pipe_prints_one_bounded_line_per_run(hostile: Path) -> None:
    done = livesite("check", str(hostile))
    assert done.returncode == 1
    assert_inert(done.stdout + done.stderr)
    [line] = [line for line in done.stdout.splitlines() if "evil @ zone-a" in line]
    # The whole reason on this one line: the body's line breaks did not split it.
    assert "expected status == 200" in line and 'body contains "nope"' in line
    assert "first line second line" in line
    assert len(line) < 600
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", done.stdout)


def test_json_keeps_the_body_exact_and_inert(hostile: Path) -> None:
    done = livesite("check", str(hostile), "--json")
    assert done.returncode == 1
    assert_inert(done.stdout)  # JSON writes control characters as \\u escapes
    [result] = json.loads(done.stdout)
    assert {a["expr"]: a["passed"] for a in result["assertions"]}['header.X-Evil == "ok"'] is False


def test_junit_is_well_formed_xml_whatever_the_target_sent(hostile: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    assert livesite("check", str(hostile), "--junit", str(report)).returncode == 1
    suite = ET.parse(report).getroot()  # raises on a character XML cannot hold
    failure = suite.find("testcase[@name='evil']/failure")
    assert failure is not None
    assert "observed [/]" in (failure.get("message") or "")
    assert "\x1b" not in ET.tostring(suite, encoding="unicode")


def test_tables_in_a_pipe_are_not_cut_at_80_columns(tmp_path: Path) -> None:
    name = "a-check-whose-name-alone-is-longer-than-eighty-columns-" + "x" * 40
    config = tmp_path / "wide.yaml"
    config.write_text(f"checks:\n  - {{name: {name}, url: 'http://127.0.0.1:1/'}}\n")
    without_columns = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = livesite("check", str(config), "--dry-run", env=without_columns)
    assert done.returncode == 0, done.stderr
    assert any(name in line for line in done.stdout.splitlines()), done.stdout


def test_the_monitor_log_quotes_a_target_on_one_line_without_escape_sequences(
    hostile: Path, tmp_path: Path
) -> None:
    config = tmp_path / "fast.yaml"
    config.write_text(hostile.read_text() + "defaults: {interval: 1s, failure_threshold: 1}\n")
    proc = start_livesite(
        "monitor",
        str(config),
        "--listen",
        f"127.0.0.1:{free_port()}",
        "--store",
        f"sqlite:///{tmp_path / 'r.db'}",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    lines = []
    try:
        for line in proc.stderr:  # until the state change is logged, however long the machine takes
            lines.append(line)
            if "evil in zone-a" in line:
                break
    finally:
        proc.terminate()
        _, rest = proc.communicate(timeout=30)
    output = "".join(lines) + rest
    assert proc.returncode == 0, output[-3000:]
    assert_inert(output)
    [change] = [line for line in lines if "evil in zone-a" in line]
    assert "first line second line" in change and "observed [/]" in change  # the whole reason, one line
