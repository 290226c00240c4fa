"""What the hostile-target tests share: running ``livesite monitor`` as a process, polling with a
deadline, reading its peak memory and /metrics, and measuring a canary's schedule from the target's
side (``TargetServer`` records when each request arrived)."""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_runner import LIVESITE
from livesite.testing.servers import free_port
from livesite.testing.target import TargetServer

MAX_RSS_BYTES = 200 * 1024 * 1024
SIGTERM_SECONDS = 2.0
CANARY_RUNS = 6
CANARY_GAP_SECONDS = 1.0 + 0.5  # its interval, and generous slack


def hostile_checks(target: TargetServer) -> list[dict[str, Any]]:
    """A check on every hostile route that can keep a monitor busy, 3 s timeout each."""
    routes = {
        "flood-headers": target.url("/header-flood"),
        "flood-big-headers": target.url("/header-flood?line=2000"),
        "flood-value": target.url("/endless-value"),
        "long-status": target.url("/long-status"),
        "early-hints": target.url("/early-hints"),
        "chunk-line": target.url("/chunk-line"),
        "endless-body": target.url("/endless-body"),
        "slowloris": target.url("/slowloris"),
        "trickle": target.url("/trickle"),
        "tls-stall": target.hang_url("/", scheme="https"),
    }
    return [{"name": name, "kind": "http", "url": url, "timeout": "3s"} for name, url in routes.items()]


def canary(name: str, url: str) -> dict[str, Any]:
    return {"name": name, "kind": "http", "url": url, "timeout": "1s", "assert": ["status == 200"]}


def write_config(directory: Path, checks: list[dict[str, Any]]) -> Path:
    config = directory / "livesite.yaml"
    doc = {"defaults": {"interval": "1s", "timeout": "3s"}, "zones": [{"name": "local"}], "checks": checks}
    config.write_text(json.dumps(doc))  # JSON is YAML
    return config


def poll(until: Callable[[], bool], timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not until():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_seconds} s")
        time.sleep(0.1)


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set so far (VmHWM)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert match is not None, status
    return int(match.group(1)) * 1024


def scrape(listen: str) -> str:
    with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as response:
        text: str = response.read().decode()
        return text


def results_by_status(metrics: str, check: str) -> dict[str, float]:
    pattern = rf'^livesite_check_results_total\{{check="{check}",[^}}]*status="(\w+)"\}} (\S+)$'
    return {m.group(1): float(m.group(2)) for m in re.finditer(pattern, metrics, re.MULTILINE)}


class Monitor:
    """``livesite monitor`` as a subprocess, its stderr in a file, stopped on the way out whatever happened."""

    def __init__(self, directory: Path, config: Path, wrap: Callable[[list[str]], list[str]] | None = None):
        self.listen = f"127.0.0.1:{free_port()}"
        argv = [*LIVESITE, "monitor", str(config), "--store", f"sqlite:///{directory / 'results.db'}"]
        argv += ["--listen", self.listen]
        self.log = directory / "monitor.log"
        self.started_at = time.monotonic()
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                wrap(argv) if wrap else argv, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL
            )

    def ready(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()
        try:
            scrape(self.listen)
        except OSError:
            return False
        return True

    def sigterm(self) -> float:
        """Send SIGTERM; the seconds until the process was gone."""
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("the monitor ignored SIGTERM for 30 s")
        return time.perf_counter() - t0

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[Callable[..., Monitor]]:
    started: list[Monitor] = []

    def start(checks: list[dict[str, Any]], wrap: Callable[[list[str]], list[str]] | None = None) -> Monitor:
        started.append(Monitor(tmp_path, write_config(tmp_path, checks), wrap))
        return started[-1]

    yield start
    for m in started:
        m.close()


def canary_arrivals(target: TargetServer, name: str, since: float) -> list[float]:
    received = list(target.received)  # a copy: the server's thread appends to it
    return [r.at for r in received if r.path == "/json" and r.query.get("canary") == name and r.at >= since]


def assert_on_schedule(arrivals: list[float]) -> None:
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert gaps and max(gaps) <= CANARY_GAP_SECONDS, gaps


def wait_for_canary(target: TargetServer, name: str, proc: Monitor) -> list[float]:
    def enough() -> bool:
        assert proc.proc.poll() is None, proc.log.read_text()
        return len(canary_arrivals(target, name, proc.started_at)) >= CANARY_RUNS

    poll(enough, 30, f"{CANARY_RUNS} runs of the canary {name!r}")
    return canary_arrivals(target, name, proc.started_at)[:CANARY_RUNS]
