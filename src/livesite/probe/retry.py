"""Retries on network failures only, with every attempt kept in the Result.

A wrong answer is not retried: retrying it would only hide instability. A timeout, a refused
connection or a failed handshake may be a blip, and the attempts say how often it happened.
"""

from __future__ import annotations

from collections.abc import Mapping

from livesite.checks import KINDS, Kind, RunContext, run_check
from livesite.config.models import CheckBase, RetrySpec
from livesite.results import Attempt, Result


async def run_with_retries(
    spec: CheckBase, ctx: RunContext, retries: RetrySpec, kinds: Mapping[str, Kind] = KINDS
) -> Result:
    attempts: list[Attempt] = []
    for number in range(1, retries.attempts + 1):
        if number > 1:
            await ctx.clock.sleep(retries.delay_before(number))
        result = await run_check(spec, ctx, kinds)
        worth_retrying = result.failure is not None and result.failure.kind.is_network
        if retries.attempts == 1:
            return result
        attempts.append(
            Attempt(
                number=number,
                started_at=result.started_at,
                duration_seconds=result.duration_seconds,
                failure=result.failure,
            )
        )
        if not worth_retrying:
            break
    return result.model_copy(update={"attempts": attempts})
