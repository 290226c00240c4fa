"""`livesite demo` end to end: the scenario catches what it breaks and leaves nothing running."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psutil
import pytest

from cli_runner import livesite, start_livesite
from livesite import scenario
from livesite.demo import DemoState, read_state
from livesite.results import Result
from livesite.states import StateChange


class Recorder:
    def __init__(self) -> None:
        self.steps: list[str] = []
        self.changes: list[StateChange] = []
        self.pids: list[int] = []
        self.summaries: list[scenario.Summary] = []

    def step(self, text: str) -> None:
        self.steps.append(text)

    def started(self, state: DemoState) -> None:
        self.pids = [c.pid for c in state.components]

    def results(self, title: str, results: list[Result]) -> None:
        pass

    def change(self, change: StateChange) -> None:
        self.changes.append(change)

    def note(self, text: str) -> None:
        pass

    def summary(self, summary: scenario.Summary) -> None:
        self.summaries.append(summary)


@pytest.mark.timeout(300)  # four acts, two of them rollouts under traffic: about a minute, more on a busy box
async def test_the_scenario_catches_every_act_and_stops_everything(tmp_path: Path) -> None:
    recorder = Recorder()
    summary = await scenario.run(tmp_path / "scenario", recorder, customers_per_second=1)
    assert summary.passed, summary.caught
    assert all(r.passed for r in summary.first_round)
    downs = {(c.check, c.zone) for c in recorder.changes if c.current.value == "down"}
    assert ("partner-health", "zone-a") in downs
    assert any(c.check == "revision" and c.current.value == "degraded" for c in recorder.changes)
    assert summary.runs > 0
    assert [(r.revision, r.phase) for r in summary.rollouts] == [("v2", "rolled-back"), ("v3", "promoted")]
    assert summary.chaos is not None and summary.chaos.status == "completed" and not summary.chaos.deviated
    assert summary.chaos.faults[0].target.description.startswith("pid ")
    # Every finished run is stored (the stop cancels runs in flight, which leave no Result and are not
    # counted).
    assert sum(u.total for u in summary.uptime.values()) == summary.runs
    assert recorder.pids and not any(psutil.pid_exists(pid) and _ours(pid) for pid in recorder.pids)
    assert read_state(tmp_path / "scenario") is None
    assert recorder.summaries == [summary]


def _ours(pid: int) -> bool:
    try:
        return "livesite.demo" in " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False


@pytest.mark.timeout(300)
def test_livesite_demo_runs_to_completion_from_the_command_line(tmp_path: Path) -> None:
    done = livesite("demo", "--scenario-dir", str(tmp_path / "s"), timeout=280)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "demo passed" in done.stdout
    assert "Everything it started is stopped" in done.stdout


def test_ctrl_c_during_the_scenario_stops_everything_it_started(tmp_path: Path) -> None:
    import signal

    where = tmp_path / "s"
    proc = start_livesite(
        "demo",
        "--scenario-dir",
        str(where),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell may hand it down ignored
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait for the monitoring part, whatever the machine's speed
        if "Monitoring it continuously" in line:
            break
    state = read_state(where)
    assert state is not None
    pids = [c.pid for c in state.components]
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert read_state(where) is None
    assert not any(psutil.pid_exists(pid) and _ours(pid) for pid in pids)


def test_keep_leaves_the_shop_and_its_status_page_up_until_ctrl_c_then_only_the_shop(tmp_path: Path) -> None:
    import json
    import re
    import signal
    import urllib.request

    where = tmp_path / "s"
    proc = start_livesite(
        "demo",
        "--keep",
        "--scenario-dir",
        str(where),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "300"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    url = None
    for line in proc.stdout:
        found = re.search(r"status page at (http://127\.0\.0\.1:\d+) until Ctrl-C", line)
        if found:
            url = found.group(1)
            break
    assert url is not None, "the summary never named the live status page"
    try:
        with urllib.request.urlopen(f"{url}/api/status", timeout=5) as response:
            statuses = json.load(response)
        assert {s["check"] for s in statuses} >= {"health", "partner-health"}
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    state = read_state(where)
    try:
        assert proc.returncode == 0, err[-2000:]
        assert "Monitor stopped. The demo keeps running" in out
        assert state is not None and all(psutil.pid_exists(c.pid) for c in state.components)
    finally:  # a failed run must not leave the kept shop running
        done = livesite("demo", "down", "--state-dir", str(where))
    assert done.returncode == 0, done.stderr
    assert not any(psutil.pid_exists(c.pid) and _ours(c.pid) for c in state.components)
