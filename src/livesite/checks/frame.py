"""The frame around every check kind: deadline, timing, zone stamp, and no escaping exceptions.

Like blackbox_exporter's prober handler, it owns what all kinds share so a kind adds only what is
specific to it. A kind raises ``ProbeError`` for "no usable answer" and returns a Result otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from livesite.checks.context import RunContext
from livesite.config.models import CheckSpec
from livesite.net.errors import ProbeError
from livesite.results import AssertionOutcome, Failure, FailureKind, Phases, Result, decide, status_for

Runner = Callable[[CheckSpec, RunContext], Awaitable[Result]]

log = logging.getLogger(__name__)


def phases_of(ctx: RunContext) -> Phases:
    p = ctx.progress
    return Phases(
        resolve=p.resolve, connect=p.connect, tls=p.tls, processing=p.processing, transfer=p.transfer
    )


def failed(
    spec: CheckSpec, ctx: RunContext, started_at: datetime, duration: float, failure: Failure
) -> Result:
    """The Result of a run that got no usable answer."""
    return completed(spec, ctx, started_at, duration, [], failure=failure)


def completed(
    spec: CheckSpec,
    ctx: RunContext,
    started_at: datetime,
    duration: float,
    outcomes: list[AssertionOutcome],
    *,
    failure: Failure | None = None,
    revision: str = "",
    status_code: int | None = None,
    response_bytes: int | None = None,
    redirects: list[str] | None = None,
    cert_not_after: datetime | None = None,
) -> Result:
    """The Result of a run that got an answer: the assertions decide, unless the kind found a failure."""
    status, assertion_failure = decide(outcomes)
    if failure is not None:
        status = status_for(failure)
    return Result(
        check=spec.name,
        kind=spec.kind,
        zone=ctx.zone.name,
        user=ctx.user,
        cohort=ctx.cohort,
        revision=revision,
        started_at=started_at,
        duration_seconds=duration,
        status=status,
        failure=failure or assertion_failure,
        phases=phases_of(ctx),
        assertions=outcomes,
        tags={**spec.tags, **ctx.tags},
        target=ctx.target,
        status_code=status_code,
        response_bytes=response_bytes,
        redirects=redirects or [],
        cert_not_after=cert_not_after,
    )


async def execute(spec: CheckSpec, ctx: RunContext, runners: Mapping[str, Runner]) -> Result:
    """Run one check once. Never raises (but for cancellation): every failure is a Result."""
    ctx = ctx.fresh()
    timeout = spec.timeout if spec.timeout is not None else ctx.defaults.timeout
    started_at = ctx.now()
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            return await runners[spec.kind](spec, ctx)
    except TimeoutError:
        where = ctx.progress.phase
        message = f"no answer within {timeout:g}s (stopped during {where})"
        return failed(
            spec,
            ctx,
            started_at,
            time.perf_counter() - t0,
            Failure(kind=FailureKind.timeout, message=message),
        )
    except ProbeError as e:
        return failed(
            spec, ctx, started_at, time.perf_counter() - t0, Failure(kind=e.kind, message=e.message)
        )
    except asyncio.CancelledError:
        raise
    except Exception as e:  # a bug in livesite must not take the monitor down; it becomes a visible Result
        log.exception("check %s crashed", spec.name)
        failure = Failure(
            kind=FailureKind.internal, message=f"{type(e).__name__}: {e} (a livesite bug; please report)"
        )
        return failed(spec, ctx, started_at, time.perf_counter() - t0, failure)
