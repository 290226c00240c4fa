"""Debian's Chromium driven by Playwright (it cannot download a browser here, so it is given the path)."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _in_browser(path: str, work: Callable[[Any], T]) -> T:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            return work(browser)
        finally:
            browser.close()


@pytest.fixture
def in_chromium() -> Callable[[Callable[[Any], T]], T]:
    """Run ``work(browser)`` against a fresh Chromium on its own thread.

    Playwright's sync API drives its own event loop; on a thread of its own it cannot disturb the event
    loops of the async tests that run after it.
    """
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        if os.environ.get("CI"):
            pytest.fail(
                "chromium is not installed; `make test` should have installed it (scripts/system-deps.sh)"
            )
        pytest.skip("chromium not installed: apt-get install chromium")

    def run(work: Callable[[Any], T]) -> T:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(_in_browser, path, work).result()

    return run
