"""The status page in a real browser, with `livesite monitor` watching the demo production."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_runner import start_livesite
from demo_plugin import DemoFactory, run_sync
from livesite.demo import DemoState, control
from prom_plugin import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def watched_demo(fresh_demo: DemoFactory, tmp_path: Path) -> Iterator[tuple[DemoState, str]]:
    state = run_sync(fresh_demo())
    config = tmp_path / "checks.yaml"
    # The shipped example, checked every second so the page changes within the test's patience.
    text = (EXAMPLES / "demo-checks.yaml").read_text().replace("interval: 15s", "interval: 1s")
    config.write_text(text.replace("failure_threshold: 2", "failure_threshold: 1"))
    listen = f"127.0.0.1:{free_port()}"
    proc = start_livesite(
        "monitor",
        str(config),
        "--listen",
        listen,
        "--store",
        f"sqlite:///{tmp_path / 'r.db'}",
        env={**os.environ, **state.env()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield state, f"http://{listen}"
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 0, stderr[-2000:]


def wait_for_state(
    page: Any, url: str, check: str, zone: str, state: str, timeout_seconds: float = 20
) -> Any:
    """Reload until the cell shows the state (the page refreshes itself every 5 s; we do not wait that long)."""
    deadline = time.monotonic() + timeout_seconds
    selector = f'td[data-check="{check}"][data-zone="{zone}"]'
    while True:
        try:
            page.goto(url)
            cell = page.locator(selector)
            if cell.count() and cell.get_attribute("data-state") == state:
                return cell
        except Exception:  # the monitor may not listen yet
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{check} @ {zone} never showed {state!r}")
        time.sleep(0.2)


def test_the_status_page_shows_every_check_per_zone_and_turns_red_when_the_partner_fails(
    in_chromium: Callable[[Callable[[Any], None]], None], watched_demo: tuple[DemoState, str]
) -> None:
    state, url = watched_demo

    def look(browser: Any) -> None:
        page = browser.new_page()
        wait_for_state(page, url, "partner-health", "zone-a", "up")
        wait_for_state(page, url, "health", "zone-b", "up")
        # A cell stays "unknown" until success_threshold results agree, and zones run at different offsets:
        # wait for the very cell whose colour is asserted.
        green = wait_for_state(page, url, "health", "zone-a", "up")
        assert page.locator("tbody tr").count() == 9  # one row per check of the example
        assert page.locator("thead th").all_inner_texts() == ["check", "zone-a", "zone-b", "why"]
        assert green.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(232, 245, 233)"

        run_sync(control.set_partner_mode(state, "down"))
        red = wait_for_state(page, url, "partner-health", "zone-a", "down")
        assert red.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 235, 238)"
        first_row = page.locator("tbody tr").first.get_attribute("data-check")
        assert first_row in ("partner-health", "partner-widget")  # worst first
        why = page.locator('tr[data-check="partner-health"] td.why').inner_text()
        assert "observed 503" in why
        assert page.title() in ("livesite · 1 down", "livesite · 2 down")

    in_chromium(look)
