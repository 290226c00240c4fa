"""/api/docs in a real browser on a machine with no way out: the page is whole and asks nothing of anyone.

FastAPI's default docs page loads Swagger UI from a CDN and stays blank offline; ours is served by the
monitor itself. The browser is cut off from everything but the monitor, and every request it tries is
recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_runner import start_livesite
from prom_plugin import free_port


@pytest.fixture
def monitor_url(site: str, tmp_path: Path) -> Iterator[str]:
    config = tmp_path / "checks.yaml"
    config.write_text(
        f'zones: [{{name: zone-a, base_url: "{site}"}}]\nchecks: [{{name: health, url: /health}}]\n'
    )
    listen = f"127.0.0.1:{free_port()}"
    proc = start_livesite(
        "monitor",
        str(config),
        "--listen",
        listen,
        "--store",
        f"sqlite:///{tmp_path / 'r.db'}",
        env={k: v for k, v in os.environ.items() if k != "FORCE_COLOR"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield f"http://{listen}"
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 0, stderr[-2000:]


def test_the_api_docs_render_offline_with_every_route_and_no_request_elsewhere(
    in_chromium: Callable[[Callable[[Any], None]], None], monitor_url: str
) -> None:
    def look(browser: Any) -> None:
        page = browser.new_page()
        elsewhere: list[str] = []

        def offline(route: Any) -> None:
            if route.request.url.startswith(monitor_url):
                route.continue_()
            else:  # as on a box without internet access
                elsewhere.append(route.request.url)
                route.abort()

        page.route("**/*", offline)
        deadline = time.monotonic() + 20
        while True:
            try:
                page.goto(f"{monitor_url}/api/docs")
                break
            except Exception:  # the monitor may not listen yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert page.locator("h1").inner_text() == "livesite 0.1.0 API"
        routes = page.locator("section.route h3").all_inner_texts()
        assert any("/api/checks/{check}/uptime" in r for r in routes), routes
        assert any(r.startswith("GET") and "/metrics" in r for r in routes), routes
        assert page.locator("section.route").count() >= 6
        box = page.locator("body").bounding_box()
        assert box is not None and box["height"] > 800  # a page, not a blank screen

        # Trying a route from the page itself: a plain form, no script.
        form = page.locator('form[action="/api/results"]')
        form.locator('input[name="limit"]').fill("5")
        form.locator("button").click()
        page.wait_for_load_state()
        assert page.url.startswith(f"{monitor_url}/api/results?")
        assert isinstance(json.loads(page.locator("body").inner_text()), list)

        page.goto(f"{monitor_url}/api/docs")
        page.locator('a[href="/api/openapi.json"]').first.click()
        page.wait_for_load_state()
        assert "/api/checks/{check}/uptime" in json.loads(page.locator("body").inner_text())["paths"]
        assert elsewhere == []

    in_chromium(look)
