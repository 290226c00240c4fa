"""A real Prometheus (Debian package `prometheus`) on 127.0.0.1, scraping what a test tells it to."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str) -> list[dict[str, object]]:
        q = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=5) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def wait_for(self, promql: str, timeout_seconds: float = 30) -> list[dict[str, object]]:
        """Poll until the query returns series, or fail with what Prometheus last said."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            found = self.query(promql)
            if found:
                return found
            if time.monotonic() > deadline:
                with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=5) as response:
                    targets = response.read().decode()
                pytest.fail(f"no series for {promql!r} within {timeout_seconds}s; targets: {targets[:2000]}")
            time.sleep(0.2)


@pytest.fixture
def prometheus_for() -> Iterator[object]:
    """Call with a scrape target (host:port); returns a running Prometheus scraping it every second."""
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(
                "prometheus is not installed; `make test` should have installed it (scripts/system-deps.sh)"
            )
        pytest.skip("prometheus not installed: apt-get install prometheus")
    procs: list[subprocess.Popen[bytes]] = []
    dirs: list[str] = []

    def start(target: str) -> Prometheus:
        work = tempfile.mkdtemp(prefix="livesite-prom-")
        dirs.append(work)
        config = Path(work) / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: livesite\n    static_configs: [{{targets: ['{target}']}}]\n"
        )
        port = free_port()
        with open(Path(work) / "prometheus.log", "wb") as log:
            proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={work}/data",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"prometheus did not start: {(Path(work) / 'prometheus.log').read_text()[-2000:]}"
                )
            time.sleep(0.1)
        return Prometheus(url)

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for work in dirs:
        shutil.rmtree(work, ignore_errors=True)
