"""The frame around every check kind: deadline, timing, assertions, the Result, redaction.

Like blackbox_exporter's prober handler, it owns what all kinds share, so a kind only observes. A
kind raises ``ProbeError`` for "no usable answer" and returns what it :class:`Seen` otherwise. The
Result is redacted here, once, before anything downstream (store, page, alert) can see it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from datetime import datetime

from livesite.assertions import evaluate
from livesite.checks.context import RunContext
from livesite.checks.kind import Kind, Seen
from livesite.checks.redact import SHOWN, Redactor, masked_subjects
from livesite.config.models import CheckBase
from livesite.net.errors import ProbeError
from livesite.results import (
    CacheObservation,
    ConsistencyObservation,
    DnsObservation,
    Failure,
    FailureKind,
    HttpObservation,
    KindObservation,
    LinksObservation,
    Phases,
    Result,
    StepResult,
    decide,
    revision_of,
    status_for,
)

log = logging.getLogger(__name__)
MESSAGE_LIMIT = 400  # characters of a failure message a Result keeps, on one line
# What a target sends and a Result keeps is cut too: a revision header, a Location or a DNS answer can
# be kilobytes long, and each reaches the store, the page and (revision) a metrics label.
REVISION_LIMIT = 120
URL_LIMIT = 2048
ANSWER_LIMIT = 512
_OBSERVED_LIMIT = 4096  # what evaluate keeps of an observed value before redaction cuts it to SHOWN


def phases_of(ctx: RunContext) -> Phases:
    p = ctx.progress
    return Phases(
        resolve=p.resolve, connect=p.connect, tls=p.tls, processing=p.processing, transfer=p.transfer
    )


async def execute(spec: CheckBase, ctx: RunContext, kinds: Mapping[str, Kind]) -> Result:
    """Run one check once. Never raises (but for cancellation): every failure is a Result."""
    ctx = ctx.fresh()
    timeout = (spec.timeout if spec.timeout is not None else ctx.defaults.timeout) + spec.wait_seconds()
    started_at = ctx.now()
    t0 = time.perf_counter()
    failure: Failure | None = None
    seen: Seen | None = None
    try:
        kind = kinds[spec.kind]
        async with asyncio.timeout(timeout if math.isfinite(timeout) else None):
            seen = await kind.run(spec, ctx)
    except TimeoutError:
        where = ctx.progress.phase
        failure = Failure(
            kind=FailureKind.timeout, message=f"no answer within {timeout:g}s (stopped during {where})"
        )
    except ProbeError as e:
        failure = Failure(kind=e.kind, message=e.message)
    except asyncio.CancelledError:
        raise
    except Exception as e:  # a bug in livesite must not take the monitor down; it becomes a visible Result
        log.exception("check %s crashed", spec.name)
        failure = Failure(
            kind=FailureKind.internal, message=f"{type(e).__name__}: {e} (a livesite bug; please report)"
        )
    duration = time.perf_counter() - t0
    return build(spec, ctx, started_at, duration, seen, failure)


def build(
    spec: CheckBase,
    ctx: RunContext,
    started_at: datetime,
    duration: float,
    seen: Seen | None,
    failure: Failure | None,
) -> Result:
    """Judge what a kind saw and build the redacted Result."""
    redactor = ctx.resources.redactor(spec, ctx.identity)
    phases = phases_of(ctx)
    outcomes = []
    observation: KindObservation | None = ctx.observation
    revision, revisions = "", list[str]()
    steps: list[StepResult] = []
    if seen is not None and seen.secrets:
        redactor = Redactor.for_check(spec, (*ctx.identity.secrets, *seen.secrets))
    if seen is not None:
        observation = seen.observation
        failure = seen.failure
        steps = [_redact_step(s, redactor) for s in seen.steps]
        seen_revision = redactor.text(seen.revision, REVISION_LIMIT) if seen.revision else ""
        revision, revisions = revision_of([seen_revision, *(s.revision for s in steps)])
        if failure is None:
            view = seen.view
            view.phases = phases
            if view.total_seconds is None:
                view.total_seconds = duration
            # Both once per check: a private attribute read costs 2 µs, naming credentials a regex.
            rules = ctx.resources.memo(spec, "rules", spec.rules)
            masked = ctx.resources.memo(spec, "masked", lambda: masked_subjects(rules))
            outcomes = redactor.outcomes(evaluate(rules, view, observed_limit=_OBSERVED_LIMIT), masked)
    status, assertion_failure = decide(outcomes)
    if failure is not None:
        status = status_for(failure)
        failure = Failure(
            kind=failure.kind, message=redactor.text(failure.message, MESSAGE_LIMIT), step=failure.step
        )
    return Result(
        check=spec.name,
        kind=spec.kind,
        zone=ctx.zone.name,
        user=ctx.identity.user,
        cohort=ctx.identity.cohort,
        revision=revision,
        revisions=revisions,
        started_at=started_at,
        duration_seconds=duration,
        status=status,
        failure=failure or assertion_failure,
        phases=phases,
        assertions=outcomes,
        steps=steps,
        tags={**spec.tags, **ctx.tags} if ctx.tags else spec.tags,
        artifacts=seen.artifacts if seen is not None else [],
        target=_url(redactor, ctx.target),
        observation=_redact_observation(observation, redactor),
    )


def _url(redactor: Redactor, url: str) -> str:
    shown = redactor.url(url)
    return shown if len(shown) <= URL_LIMIT else redactor.text(shown, URL_LIMIT)


def _redact_observation(observation: KindObservation | None, redactor: Redactor) -> KindObservation | None:
    if isinstance(observation, HttpObservation) and observation.redirects:
        return observation.model_copy(
            update={"redirects": [_url(redactor, u) for u in observation.redirects]}
        )
    if isinstance(observation, LinksObservation) and observation.broken:
        broken = [
            b.model_copy(
                update={
                    "page": _url(redactor, b.page),
                    "link": _url(redactor, b.link),
                    "reason": redactor.text(b.reason, MESSAGE_LIMIT),
                }
            )
            for b in observation.broken
        ]
        return observation.model_copy(update={"broken": broken})
    if isinstance(observation, DnsObservation) and observation.answers:
        answers = [redactor.text(a, ANSWER_LIMIT) for a in observation.answers]
        return (
            observation
            if answers == observation.answers
            else observation.model_copy(update={"answers": answers})
        )
    if isinstance(observation, CacheObservation) and any(z.etag for z in observation.zones):
        zones = [
            z.model_copy(update={"etag": redactor.text(z.etag, REVISION_LIMIT)}) for z in observation.zones
        ]
        return observation.model_copy(update={"zones": zones})
    if isinstance(observation, ConsistencyObservation) and observation.values:
        # What each zone served can be anything a site sends (a JSON field the user chose).
        shown = {z: redactor.text(v, ANSWER_LIMIT) for z, v in observation.values.items()}
        majority = observation.majority
        return observation.model_copy(
            update={
                "values": shown,
                "majority": None if majority is None else redactor.text(majority, ANSWER_LIMIT),
            }
        )
    return observation


def _redact_step(step: StepResult, redactor: Redactor) -> StepResult:
    failure = step.failure
    if failure is not None:
        failure = Failure(
            kind=failure.kind, message=redactor.text(failure.message, MESSAGE_LIMIT), step=failure.step
        )
    outcomes = [
        o if o.observed is None else o.model_copy(update={"observed": redactor.text(o.observed, SHOWN)})
        for o in step.assertions
    ]
    return step.model_copy(
        update={
            "failure": failure,
            "assertions": outcomes,
            "target": _url(redactor, step.target),
            "revision": redactor.text(step.revision, REVISION_LIMIT),
            "observation": _redact_observation(step.observation, redactor),
        }
    )
