"""Browser journeys: time and memory per step, livesite's browser kind vs a plain Playwright script.

Both drive Debian's Chromium through the same journey (the demo shop: home → first product → pick a
quantity → add to cart → the answer), against the same demo production on 127.0.0.1, alternating
run by run, each with a fresh context in its own long-lived browser. The plain script is what a
user of Playwright would write by hand; the difference is what livesite adds (the frame, the
per-step Navigation Timing and revision, the watch on console and requests, redaction, and the
synthetic-user marker header added by a route on the site's origin).

Prints per step the median wall time of each side, then per journey: median wall time, CPU of this
process (livesite's Python, or Playwright's client) and of the browser's process tree, and the
browser's resident memory (summed RSS of its processes, an upper bound), and one ratio line.

    python bench/browser.py [--runs 10] [--anonymous]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import psutil
from playwright.async_api import Page, async_playwright

from livesite.checks import Identity, Resources, RunContext, run_check
from livesite.checks.browser import BrowserCheck
from livesite.checks.browsing.pool import CHROMIUM_ARGS, DEFAULT_EXECUTABLE, Browsers
from livesite.config import loads
from livesite.config.models import Zone
from livesite.demo import DemoOptions, down, up
from livesite.results import Status

JOURNEY = """checks:
  - name: shop
    kind: browser
    timeout: 60s
    steps:
      - goto: /
      - expect_text: Gear for people who test in production
      - click: "ul.products a >> nth=0"
      - expect_url: /products/
      - select: "#quantity"
        value: "2"
      - click: text=Add to cart
      - expect_text: Sign in to add to your cart
        selector: "#cart-status"
"""
STEPS = ["goto /", "expect_text", "click product", "expect_url", "select", "click add", "expect_text status"]


async def plain(page: Page, base: str) -> list[float]:
    """The same journey as a hand-written Playwright script; seconds per step."""
    out: list[float] = []

    async def step(coro: object) -> None:
        t0 = time.perf_counter()
        await coro  # type: ignore[misc]
        out.append(time.perf_counter() - t0)

    async def click_and_load(selector: str) -> None:
        await page.click(selector)
        await page.wait_for_load_state("load")

    await step(page.goto(base + "/", wait_until="load"))
    await step(page.locator("body").filter(has_text="Gear for people who test in production").wait_for())
    await step(click_and_load("ul.products a >> nth=0"))
    await step(page.wait_for_url(lambda u: "/products/" in u))
    await step(page.select_option("#quantity", "2"))
    await step(click_and_load("text=Add to cart"))
    await step(page.locator("#cart-status").filter(has_text="Sign in to add to your cart").wait_for())
    return out


def tree(marker: str | None, root: psutil.Process) -> list[psutil.Process]:
    """The Chromium process tree: the one started with ``marker``, or every chromium under ``root``."""
    found = []
    for p in root.children(recursive=True):
        try:
            if (marker is None and p.name().startswith("chrom")) or (marker and marker in p.cmdline()):
                found.append(p)
                if marker:
                    found.extend(p.children(recursive=True))
        except psutil.Error:
            pass
    return list({p.pid: p for p in found}.values())


def cpu_and_rss(processes: list[psutil.Process]) -> tuple[float, int]:
    cpu, rss = 0.0, 0
    for p in processes:
        try:
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
        except psutil.Error:
            pass
    return cpu, rss


async def main(runs: int, anonymous: bool = False) -> None:
    me = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        state = await up(DemoOptions(state_dir=Path(tmp) / "demo"))
        try:
            base = state.zone_url("zone-a")
            spec = loads(JOURNEY).check("shop")
            assert isinstance(spec, BrowserCheck)
            resources = Resources(Path(tmp))
            browsers = resources.shared("browsers", Browsers)
            # As a fake user: the synthetic-user marker goes with every request to the site (a route
            # per origin adds it), as it would in production.
            user = Identity(user="bench-user", headers=(("X-Livesite-Synthetic", "bench-user"),))
            if anonymous:
                user = Identity()
            ctx = RunContext(zone=Zone(name="zone-a", base_url=base), resources=resources, identity=user)
            ours: list[list[float]] = []
            theirs: list[list[float]] = []
            totals: dict[str, list[float]] = {"livesite": [], "plain": []}
            cpu: dict[str, list[float]] = {"livesite": [], "plain": []}
            chrome_cpu: dict[str, list[float]] = {"livesite": [], "plain": []}
            rss: dict[str, int] = {"livesite": 0, "plain": 0}
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=DEFAULT_EXECUTABLE, args=list(CHROMIUM_ARGS)
                )
                # One warm-up run each: the browsers start, the demo's edge caches fill.
                await run_check(spec, ctx)
                context = await browser.new_context()
                await plain(await context.new_page(), base)
                await context.close()
                pool = browsers.pools[0]
                marker = pool._current.marker if pool._current else None

                async def ours_once() -> None:
                    b0, _ = cpu_and_rss(tree(marker, me))
                    c0, t0 = time.process_time(), time.perf_counter()
                    result = await run_check(spec, ctx)
                    totals["livesite"].append(time.perf_counter() - t0)
                    await asyncio.sleep(0.3)  # the context closes in the background: count its cost here
                    cpu["livesite"].append(time.process_time() - c0)
                    b1, r = cpu_and_rss(tree(marker, me))
                    chrome_cpu["livesite"].append(b1 - b0)
                    rss["livesite"] = max(rss["livesite"], r)
                    assert result.status is Status.ok, result.reason()
                    ours.append([s.duration_seconds for s in result.steps])

                async def theirs_once() -> None:
                    mine = {q.pid for q in tree(marker, me)}
                    b0, _ = cpu_and_rss([p for p in tree(None, me) if p.pid not in mine])
                    c0, t0 = time.process_time(), time.perf_counter()
                    context = await browser.new_context()
                    theirs.append(await plain(await context.new_page(), base))
                    totals["plain"].append(time.perf_counter() - t0)  # as for livesite: without the close
                    await context.close()
                    await asyncio.sleep(0.3)
                    cpu["plain"].append(time.process_time() - c0)
                    b1, r = cpu_and_rss([p for p in tree(None, me) if p.pid not in mine])
                    chrome_cpu["plain"].append(b1 - b0)
                    rss["plain"] = max(rss["plain"], r)

                for i in range(runs):  # alternating which side goes first
                    for side in (ours_once, theirs_once) if i % 2 == 0 else (theirs_once, ours_once):
                        await side()
                await browser.close()
            await resources.aclose()
        finally:
            await down(state.state_dir)

    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(
        f"browser journey: {len(STEPS)} steps, {runs} runs per side, Chromium {DEFAULT_EXECUTABLE}, demo on 127.0.0.1"
    )
    print(f"{'step':<22}{'livesite ms':>14}{'plain ms':>12}")
    for i, name in enumerate(STEPS):
        print(f"{name:<22}{ms([r[i] for r in ours]):>14.1f}{ms([r[i] for r in theirs]):>12.1f}")
    for side in ("livesite", "plain"):
        print(
            f"{side:<9} journey {ms(totals[side]):7.1f} ms  python CPU {ms(cpu[side]):6.1f} ms  "
            f"chromium CPU {ms(chrome_cpu[side]):6.1f} ms  chromium RSS {rss[side] / 2**20:6.0f} MB"
        )
    steps_ms = ms(totals["livesite"]) / len(STEPS)
    ratio = statistics.median(totals["livesite"]) / statistics.median(totals["plain"])
    print(
        f"browser: livesite {ms(totals['livesite']):.0f} ms/journey ({steps_ms:.0f} ms/step, "
        f"{ms(cpu['livesite']) / len(STEPS):.1f} ms python CPU/step) vs plain playwright "
        f"{ms(totals['plain']):.0f} ms/journey → ratio {ratio:.2f}×"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--anonymous", action="store_true", help="run livesite's side as nobody (no marker)")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.anonymous))
