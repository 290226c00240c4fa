"""A run's identity in the browser: its headers and cookies go to the site's own origins only.

Playwright's ``extra_http_headers`` would add the synthetic-user marker to every request, and a
header a page did not set turns its cross-origin ``fetch`` into a CORS preflight that a partner's
API may refuse: the fake user's page would break where a real visitor's works. So the headers are
added by a route on each origin of the site (the zone's ``base_url``, the check's ``url`` and
literal ``goto`` URLs), where no preflight is involved, and the cookies are set for those origins.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from livesite.checks.browsing.steps import BrowserStep

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Request, Route


def site_origins(steps: Iterable[BrowserStep], base_url: str | None) -> list[str]:
    """``scheme://host:port`` of every place the journey names as the site's own."""
    urls = [base_url or "", *(s.goto or "" for s in steps)]
    origins: list[str] = []
    for url in urls:
        if "${" in url or not url.lower().startswith(("http://", "https://")):
            continue
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        if origin not in origins:
            origins.append(origin)
    return origins


async def apply(
    context: BrowserContext,
    headers: Sequence[tuple[str, str]],
    cookies: Sequence[tuple[str, str]],
    origins: Sequence[str],
) -> None:
    """Send ``headers`` and ``cookies`` with every request to ``origins``, and nowhere else."""
    if cookies:
        await context.add_cookies(
            [{"name": k, "value": v, "url": origin} for origin in origins for k, v in cookies]
        )
    if not headers:
        return
    extra = {k.lower(): v for k, v in headers}

    async def add_headers(route: Route, request: Request) -> None:
        with contextlib.suppress(Exception):  # the page went away meanwhile: nothing to send
            await route.continue_(headers={**await request.all_headers(), **extra})

    for origin in origins:
        # A glob, matched in Playwright's driver: requests elsewhere never round-trip to Python.
        await context.route(f"{origin}/**", add_headers)
