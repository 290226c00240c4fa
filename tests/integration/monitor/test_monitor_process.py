"""`livesite monitor` as a real process: scraped by a real Prometheus, stopped by SIGTERM without loss."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cli_runner import livesite, start_livesite
from livesite import runtime
from livesite.store import open_store
from livesite.store.base import ResultQuery
from prom_plugin import Prometheus, free_port


def write_config(tmp_path: Path, site: str) -> Path:
    config = tmp_path / "livesite.yaml"
    config.write_text(
        f"""
defaults: {{interval: 1s, timeout: 2s, failure_threshold: 2, success_threshold: 1}}
zones:
  - {{name: zone-a, base_url: "{site}"}}
  - {{name: zone-b, base_url: "{site}"}}
checks:
  - name: health
    url: /health
    assert: [status == 200, json.ok == true]
  - name: broken
    url: /missing
    zones: [zone-a]
    assert: [status == 200]
store: {{url: "sqlite:///results.db"}}
"""
    )
    return config


def poll(fetch: Callable[[], object], until: Callable[[object], bool], timeout_seconds: float = 20) -> object:
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            value = fetch()
            if until(value):
                return value
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("condition not reached before the deadline")
        time.sleep(0.1)


@pytest.fixture
def monitor_process(tmp_path: Path, site: str) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    config = write_config(tmp_path, site)
    listen = f"127.0.0.1:{free_port()}"
    proc = start_livesite(
        "monitor", str(config), "--listen", listen, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    yield proc, f"http://{listen}", tmp_path / "results.db"
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.load(response)


def test_prometheus_scrapes_the_monitor_with_blackbox_names(
    monitor_process: tuple[subprocess.Popen[str], str, Path], prometheus_for: Callable[[str], Prometheus]
) -> None:
    _, url, _ = monitor_process
    poll(lambda: get_json(f"{url}/api/status"), lambda s: all(x["last"] for x in s))  # type: ignore[attr-defined]
    prometheus = prometheus_for(url.removeprefix("http://"))
    series = prometheus.wait_for('probe_success{check="health"}')
    assert {s["metric"]["zone"] for s in series} == {"zone-a", "zone-b"}  # type: ignore[index]
    assert all(s["metric"]["revision"] == "v7" and s["value"][1] == "1" for s in series)  # type: ignore[index]
    broken = prometheus.wait_for('probe_http_status_code{check="broken"}')
    assert broken[0]["value"][1] == "404"  # type: ignore[index]
    phases = prometheus.wait_for('probe_http_duration_seconds{check="health",zone="zone-a"}')
    assert {s["metric"]["phase"] for s in phases} == {"resolve", "connect", "tls", "processing", "transfer"}  # type: ignore[index]
    down = prometheus.wait_for('livesite_check_state{check="broken",state="down"} == 1')
    assert down[0]["metric"]["zone"] == "zone-a"  # type: ignore[index]
    with urllib.request.urlopen(f"{url}/", timeout=2) as response:
        page = response.read().decode()
    assert 'data-check="broken" data-zone="zone-a" data-state="down"' in page
    assert "expected status == 200, observed 404" in page


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_stops_the_monitor_cleanly_and_keeps_every_result(
    monitor_process: tuple[subprocess.Popen[str], str, Path], stop_signal: signal.Signals
) -> None:
    proc, url, db = monitor_process
    poll(lambda: get_json(f"{url}/api/results?check=health&limit=1000"), lambda r: len(r) >= 4)  # type: ignore[arg-type]
    proc.send_signal(stop_signal)
    _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    ran = int(stderr.rsplit("stopped after ", 1)[1].split()[0])

    async def count() -> tuple[int, int]:
        store = await open_store(f"sqlite:///{db}")
        try:
            results = await store.results(ResultQuery(limit=100_000))
            events = await store.events(None, 1000)
            return len(results), len(events)
        finally:
            await store.close()

    stored, events = runtime.run(count())
    assert stored == ran
    assert events >= 3  # health up in two zones, broken down in zone-a

    history = livesite("history", "broken", "--store", f"sqlite:///{db}", "--json")
    assert history.returncode == 0, history.stderr
    shown = json.loads(history.stdout)
    assert shown and all(r["check"] == "broken" and r["status"] == "failed" for r in shown)
    lines = livesite("history", "broken", "--store", f"sqlite:///{db}").stdout.splitlines()
    assert lines[0].startswith("broken: last ")
    assert lines[1].startswith("✗ broken @ zone-a: failed") and "observed 404" in lines[1]
    assert any(line.startswith("uptime 24h: 0.000% of ") for line in lines)


def test_the_monitor_refuses_a_busy_listen_address_with_a_clear_error(tmp_path: Path, site: str) -> None:
    import socket

    config = write_config(tmp_path, site)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = livesite("monitor", str(config), "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 2
    assert "cannot listen on" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_restarted_monitor_does_not_announce_known_states_again(tmp_path: Path, site: str) -> None:
    config = write_config(tmp_path, site)

    def run_until_down() -> str:
        listen = f"127.0.0.1:{free_port()}"
        proc = start_livesite(
            "monitor", str(config), "--listen", listen, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            poll(
                lambda: get_json(f"http://{listen}/api/status"),
                lambda s: (
                    any(x["check"] == "broken" and x["state"] == "down" for x in s)  # type: ignore[attr-defined]
                    and all(x["state"] == "up" for x in s if x["check"] == "health")
                ),  # type: ignore[attr-defined]
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=15)
        return stderr

    first = run_until_down()
    assert "broken in zone-a: unknown → down" in first
    second = run_until_down()  # the state came back from the store: no new announcement
    assert "unknown →" not in second, second
