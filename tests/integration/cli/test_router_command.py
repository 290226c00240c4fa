"""`livesite router` as users run it: it starts, serves, answers its admin API, and stops on SIGTERM."""

from __future__ import annotations

import re
import select
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from cli_runner import livesite, start_livesite
from livesite.testing import TargetServer

pytestmark = pytest.mark.integration


def _first_line(proc: subprocess.Popen[str], timeout_seconds: float = 20) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            return proc.stdout.readline()
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    raise AssertionError("the router printed nothing")


def test_the_router_command_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("tok-123\n")
    with TargetServer(version="v1").in_thread() as stable, TargetServer(version="v2").in_thread() as canary:
        proc = start_livesite(
            "router",
            "--listen",
            "127.0.0.1:0",
            "--backend",
            f"http://127.0.0.1:{stable.port}=3",
            "--backend",
            f"http://127.0.0.1:{canary.port}=1",
            "--name-backends",
            "stable,canary",
            "--sticky-header",
            "X-User",
            "--admin-token-file",
            str(token),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            line = _first_line(proc)
            match = re.search(r"router listening on (http://127\.0\.0\.1:\d+)", line)
            assert match, line
            url = match.group(1)
            versions = [httpx.get(f"{url}/status/200").headers["x-version"] for _ in range(8)]
            assert sorted(versions) == ["v1"] * 6 + ["v2"] * 2
            assert httpx.get(f"{url}/-/weights").status_code == 401
            weights = httpx.get(f"{url}/-/weights", headers={"Authorization": "Bearer tok-123"}).json()
            assert weights == {"stable": 3, "canary": 1}
            routes = httpx.get(f"{url}/-/routes", headers={"Authorization": "Bearer tok-123"}).json()
            assert routes == {"routes": [], "sticky": {"header": "X-User"}}
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "router stopped" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--backend", "http://127.0.0.1:1"], "no weight"),
        (["--backend", "http://127.0.0.1:1=1", "--listen", "nowhere"], "HOST:PORT"),
        (["--backend", "http://127.0.0.1:1=0"], "weight above 0"),
        (["--backend", "http://127.0.0.1:1=1", "--name-backends", "a,b"], "2 names for 1 backends"),
        (["--backend", "http://127.0.0.1:1=1", "--sticky-header", "H", "--sticky-cookie", "C"], "not both"),
        (["--backend", "http://127.0.0.1:1=1", "--admin-token-file", "/nonexistent/token"], "No such file"),
    ],
)
def test_bad_router_arguments_exit_2_with_the_reason(args: list[str], words: str) -> None:
    done = livesite("router", *args, timeout=30)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr
