"""The cache kind: does a change reach every zone's edge, and how fast?

One run reads an object through every zone's edge (noting what each cache said: ``X-Cache``,
``Age``, ``ETag``), changes it through the API with a value unique to the run (``${run.nonce}``),
purges (once, or in every zone) or relies on the write's own invalidation or the TTL, then polls
every zone until it serves the new value. Each zone's time to consistency is in the Result; a zone
still serving the old value when the poll budget runs out fails the check, by name. The original
value is written back afterwards (``restore``), even when the check failed.

The check visits every zone (or its ``zones``) in one run and is planned once, in the first zone;
its Result carries that zone and names the zone at fault in its failure.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from livesite.assertions import Observation
from livesite.checks.context import RunContext
from livesite.checks.kind import Kind, Metric, Sample, Seen
from livesite.checks.requests import (
    Prepared,
    RequestSpec,
    as_text,
    check_references,
    excerpt,
    json_path,
    new_nonce,
    prepare,
    read_json,
    request_secrets,
    run_values,
    send,
    target_of,
    visited_zones,
)
from livesite.checks.session import Exchange, Session, step_of
from livesite.config.models import CheckBase, Model
from livesite.config.types import MAX_TIMEOUT_SECONDS, Seconds, Timeout, format_duration
from livesite.net.errors import ProbeError
from livesite.results import (
    CacheObservation,
    Failure,
    FailureKind,
    Result,
    Status,
    StepResult,
    ZoneCache,
)

MIN_POLL_SECONDS = 0.05
_MAX_AGE = re.compile(r"(?:s-maxage|max-age)=(\d{1,10})")


class Poll(Model):
    """How often each zone is read after the change, and for how long."""

    interval: Seconds = 0.5
    budget: Seconds = 30.0

    @model_validator(mode="after")
    def _budget_covers_interval(self) -> Poll:
        if self.interval < MIN_POLL_SECONDS:
            raise ValueError(f"interval: poll at most every {format_duration(MIN_POLL_SECONDS)}")
        if self.budget < self.interval:
            raise ValueError(
                f"budget: {format_duration(self.budget)} is shorter than the poll interval "
                f"{format_duration(self.interval)}, so no zone would be read twice "
                "(hint: a budget of several intervals, e.g. interval: 500ms, budget: 30s)"
            )
        return self


class CacheCheck(CheckBase):
    ACROSS_ZONES: ClassVar[bool] = True

    kind: Literal["cache"] = "cache"
    read: RequestSpec = Field(description="the object, read through each zone's edge (a path)")
    value: str | None = Field(None, description="JSON path of the value that changes, e.g. json.price")
    pattern: str | None = Field(None, description="or a regex over the body (its first group, if any)")
    write: RequestSpec = Field(description="the change through the API; must use ${run.nonce}")
    purge: RequestSpec | None = None
    purge_each_zone: bool = Field(True, description="send purge to every zone (false: once)")
    poll: Poll = Field(default_factory=Poll)
    restore: RequestSpec | None = Field(None, description="writes the value back; ${steps.before.value}")
    request_timeout: Timeout = 10.0

    @field_validator("read", mode="before")
    @classmethod
    def _path(cls, v: object) -> object:
        return {"url": v} if isinstance(v, str) else v

    @field_validator("value")
    @classmethod
    def _value(cls, v: str | None) -> str | None:
        return None if v is None else json_path(v, "value")

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"pattern {v[:60]!r} is not a regular expression: {e}") from None
        return v

    @model_validator(mode="after")
    def _consistent(self) -> CacheCheck:
        if self.value is not None and self.pattern is not None:
            raise ValueError("value: give value (a JSON path) or pattern (a regex), not both")
        if "run.nonce" not in self.write.references():
            raise ValueError(
                "write: the change must carry ${run.nonce}, the value unique to each run, or a "
                "stale read cannot be told from a fresh one "
                "(hint: body: '{\"price_cents\": ${run.nonce}}')"
            )
        check_references("read", [self.read], ())
        check_references("write", [self.write], ())
        check_references("purge", [self.purge], ())
        check_references("restore", [self.restore], ("steps.before.value",))
        if self.timeout is None:
            # The run waits up to the poll budget; the reads, the write, purges and the restore each
            # have their request timeout. Derived here so the frame's deadline covers the wait.
            derived = self.poll.budget + 6 * self.request_timeout
            object.__setattr__(self, "timeout", min(derived, MAX_TIMEOUT_SECONDS))
        elif self.timeout < self.poll.budget + self.request_timeout:
            raise ValueError(
                f"timeout: {format_duration(self.timeout)} cannot cover the poll budget "
                f"{format_duration(self.poll.budget)} and a request "
                f"({format_duration(self.request_timeout)}) "
                f"(hint: leave timeout out to derive it, or set it to at least "
                f"{format_duration(self.poll.budget + self.request_timeout)})"
            )
        return self

    def secrets(self) -> list[str]:
        return request_secrets(self, [self.read, self.write, self.purge, self.restore])


@dataclass(slots=True)
class _Zone:
    name: str
    first: Exchange | None = None
    consistent_after: float | None = None
    stale_reads: int = 0
    failure: Failure | None = None
    steps: list[StepResult] = field(default_factory=list)

    def record(self) -> ZoneCache:
        seen = self.first
        age = seen.headers.get("age", "") if seen is not None else ""
        return ZoneCache(
            zone=self.name,
            before=(seen.headers.get("x-cache", "") if seen is not None else "")[:16].upper(),
            age_seconds=float(age) if age.replace(".", "", 1).isdigit() else None,
            etag=(seen.headers.get("etag", "") if seen is not None else "")[:120],
            consistent_after_seconds=self.consistent_after,
            stale_reads=self.stale_reads,
        )


def _value(spec: CacheCheck, seen: Exchange) -> str:
    if spec.value is not None:
        return as_text(read_json(seen.body, spec.value))
    text = seen.body.decode("utf-8", "replace")
    if spec.pattern is not None:
        m = re.search(spec.pattern, text)
        if m is None:
            return ""
        return m.group(1) if m.groups() else m.group(0)
    return text


def _where(spec: CacheCheck) -> str:
    """Where the changing value is read, for messages."""
    return spec.value or (f"pattern {spec.pattern!r}" if spec.pattern else "body")


def _cache_note(seen: Exchange | None) -> str:
    if seen is None:
        return ""
    parts = [f"{k} {seen.headers[k.lower()][:40]}" for k in ("X-Cache", "Age") if k.lower() in seen.headers]
    max_age = _MAX_AGE.search(seen.headers.get("cache-control", ""))
    if max_age:
        parts.append(f"max-age {max_age.group(1)}")
    return f" ({', '.join(parts)})" if parts else ""


async def _request(
    spec: CacheCheck,
    session: Session,
    name: str,
    prepared: Prepared,
    request: RequestSpec,
    zone: str | None,
) -> tuple[Exchange | None, StepResult]:
    """One request as one step; a wrong status or no answer fails the step."""
    started = session.offset()
    try:
        seen = await send(session, prepared, zone=zone, timeout_seconds=spec.request_timeout)
    except ProbeError as e:
        failure = Failure(kind=e.kind, message=e.message)
        return None, step_of(
            name,
            [],
            None,
            failure=failure,
            started_offset_seconds=started,
            duration_seconds=session.offset() - started,
            target=prepared.url,
        )
    step = step_of(name, [], seen)
    if not request.ok(seen.status):
        wanted = ", ".join(map(str, request.status)) if request.status else "2xx"
        failure = Failure(
            kind=FailureKind.script,
            message=f"{name} answered {seen.status}, expected {wanted}{excerpt(seen)}",
        )
        step = step_of(
            name,
            [],
            seen,
            failure=failure,
            started_offset_seconds=seen.started_offset_seconds,
            duration_seconds=seen.duration_seconds,
            target=seen.url,
        )
    return seen, step


async def _poll(
    spec: CacheCheck,
    ctx: RunContext,
    session: Session,
    zone: _Zone,
    read: Prepared,
    nonce: str,
    written_at: float,
) -> None:
    """Read one zone until it serves the nonce or the budget runs out."""
    clock = ctx.clock
    deadline = written_at + spec.poll.budget
    while True:
        read_at = clock.monotonic()
        seen, step = await _request(spec, session, f"poll@{zone.name}", read, spec.read, zone.name)
        now = clock.monotonic()
        if seen is None or step.failure is not None:
            # An edge that stumbles while it refills (a 503, a reset) may still catch up in time.
            if now >= deadline:
                zone.steps.append(step)
                zone.failure = step.failure
                return
            await clock.sleep(max(0.0, min(spec.poll.interval, deadline - now)))
            continue
        if nonce in _value(spec, seen):
            zone.consistent_after = max(0.0, read_at - written_at)
            zone.steps.append(step.model_copy(update={"name": f"fresh@{zone.name}"}))
            return
        zone.stale_reads += 1
        if read_at >= deadline:
            shown = _value(spec, seen)
            shown = shown if len(shown) <= 60 else shown[:59] + "…"
            message = (
                f"{zone.name} still served the old value ({shown or 'nothing at ' + _where(spec)}) "
                f"{format_duration(round(read_at - written_at, 3))} after the write, "
                f"at the end of its {format_duration(spec.poll.budget)} budget"
                f"{_cache_note(seen)}; {zone.stale_reads} stale reads"
            )
            zone.failure = Failure(kind=FailureKind.script, message=message, step=f"stale@{zone.name}")
            zone.steps.append(
                step.model_copy(
                    update={"name": f"stale@{zone.name}", "status": Status.failed, "failure": zone.failure}
                )
            )
            return
        # The last read falls on the deadline, so a zone is judged after the whole budget.
        await clock.sleep(max(0.0, min(spec.poll.interval, deadline - now)))


async def run(spec: CheckBase, ctx: RunContext) -> Seen:
    assert isinstance(spec, CacheCheck)
    zones = [_Zone(z.name) for z in visited_zones(spec, ctx)]
    home = zones[0].name
    steps: list[StepResult] = []
    failure: Failure | None = None
    restored: bool | None = None
    values = run_values(ctx, new_nonce())
    read = prepare(spec.read, values)
    ctx.target = target_of(spec.read, values, visited_zones(spec, ctx)[0])
    async with Session(ctx) as session:
        # 1. What every edge serves now (which also puts the old value in each cache).
        firsts = await asyncio.gather(
            *(_request(spec, session, f"read@{z.name}", read, spec.read, z.name) for z in zones)
        )
        for zone, (seen, step) in zip(zones, firsts, strict=True):
            zone.first = seen
            steps.append(step)
            failure = failure or step.failure
        first = zones[0].first
        before = _value(spec, first) if first is not None and failure is None else ""
        while values["run.nonce"] in before:  # the nonce must tell the new value from the old
            values["run.nonce"] = new_nonce()
        values["steps.before.value"] = before
        written, written_at = False, 0.0
        try:
            if failure is None:
                # 2. The change, with the run's nonce.
                seen, step = await _request(
                    spec, session, "write", prepare(spec.write, values), spec.write, home
                )
                steps.append(step)
                failure = step.failure
                written = seen is not None
                written_at = ctx.clock.monotonic()
            if failure is None and spec.purge is not None:
                # 3. The purge, in every zone or once.
                purge = prepare(spec.purge, values)
                targets = [z.name for z in zones] if spec.purge_each_zone else [home]
                purged = await asyncio.gather(
                    *(_request(spec, session, f"purge@{z}", purge, spec.purge, z) for z in targets)
                )
                for _, step in purged:
                    steps.append(step)
                    failure = failure or step.failure
            if failure is None:
                # 4. Every zone until it serves the nonce.
                nonce = values["run.nonce"]
                await asyncio.gather(*(_poll(spec, ctx, session, z, read, nonce, written_at) for z in zones))
                for zone in zones:
                    steps += zone.steps
                stale = [z for z in zones if z.failure is not None]
                if len(stale) == 1:
                    failure = stale[0].failure
                elif stale:
                    failure = Failure(
                        kind=FailureKind.script,
                        message="; ".join(z.failure.message for z in stale if z.failure is not None),
                        step=stale[0].failure.step if stale[0].failure is not None else None,
                    )
        finally:
            if written and spec.restore is not None:
                # 5. Put the original value back, whatever happened (and however the run ends).
                _, step = await asyncio.shield(
                    _request(spec, session, "restore", prepare(spec.restore, values), spec.restore, home)
                )
                steps.append(step)
                restored = step.failure is None
                if failure is None and step.failure is not None:
                    failure = Failure(
                        kind=step.failure.kind,
                        message=f"restore failed: {step.failure.message}",
                        step="restore",
                    )
    if failure is not None and failure.step is None:
        failed = next((s for s in steps if s.failure is not None), None)
        if failed is not None:
            failure = Failure(kind=failure.kind, message=failure.message, step=failed.name)
    observation = CacheObservation(zones=[z.record() for z in zones], restored=restored)
    return Seen(view=Observation(), observation=observation, failure=failure, steps=steps)


METRICS = (
    Metric(
        "probe_cache_consistency_seconds",
        "gauge",
        "Seconds from the write until the zone's edge served the new value (absent: it never did)",
    ),
    Metric("probe_cache_stale", "gauge", "Whether the zone's edge still served the old value at the budget"),
    Metric("probe_cache_hit", "gauge", "Whether the zone's edge answered the first read from its cache"),
)


def samples(result: Result) -> Iterable[Sample]:
    obs = result.observation
    if not isinstance(obs, CacheObservation):
        return
    for zone in obs.zones:
        label = f'target_zone="{zone.zone}"'
        if zone.consistent_after_seconds is not None:
            yield "probe_cache_consistency_seconds", label, zone.consistent_after_seconds
        yield "probe_cache_stale", label, int(zone.consistent_after_seconds is None and zone.stale_reads > 0)
        yield "probe_cache_hit", label, int(zone.before == "HIT")


KIND = Kind(spec=CacheCheck, run=run, metrics=METRICS, samples=samples)
