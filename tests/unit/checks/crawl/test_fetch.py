"""The crawler's rate limit spaces request starts evenly, bursts included."""

from __future__ import annotations

import asyncio
import time

from livesite.checks.crawl.fetch import RateLimit


async def test_request_starts_are_spaced_by_one_over_the_rate_even_when_asked_at_once() -> None:
    rate = RateLimit(per_second=1000)
    before = time.monotonic()
    starts: list[float] = []

    async def one() -> None:
        await rate.wait()
        starts.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(5)))
    # The slots handed out are 1 ms apart from the first; each start comes no earlier than its slot.
    assert rate.next - before >= 5 * rate.gap
    assert starts[-1] - before >= 4 * rate.gap - 0.0005  # a timer may fire a clock tick early
