"""The consistency kind: do all zones serve the same thing?

One run sends the same request in every zone (or its ``zones``), at once, and compares what each
answered: the status, the revision header, a hash of the body, or chosen JSON fields. No expected
value is needed: the zones are held to each other. When more than half agree, the others differ
from that majority; without a majority the Result lists each zone's value. Each zone's answer is a
step, held to the check's ``assert`` rules (``status == 200``); ``budget`` rules apply to the run.

Planned once, in the first zone it visits (see ``ACROSS_ZONES``); its Result carries that zone.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Iterable
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from livesite.assertions import Assertion, Observation, parse
from livesite.checks.context import RunContext
from livesite.checks.http import HttpCheck
from livesite.checks.kind import Kind, Metric, Sample, Seen
from livesite.checks.requests import (
    RequestSpec,
    as_text,
    check_references,
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
from livesite.config.models import CheckBase
from livesite.config.types import Timeout
from livesite.net.errors import ProbeError
from livesite.results import ConsistencyObservation, Failure, FailureKind, Result, StepResult

_FIXED = ("status", "revision", "body")
_SHOWN = 80  # characters of a zone's value the Result keeps
_ANSWERED = [parse("status in 200..299")]  # each zone's answer, unless the check says otherwise


class ConsistencyCheck(CheckBase):
    ACROSS_ZONES: ClassVar[bool] = True
    # Rules on each zone's answer; budgets on the whole run.
    SUBJECTS: ClassVar[frozenset[str]] = HttpCheck.SUBJECTS - {"cert.days_left"}

    kind: Literal["consistency"] = "consistency"
    url: str
    method: Literal["GET", "HEAD", "POST"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    compare: list[str] = Field(
        default_factory=lambda: ["status", "revision"],
        description="status, revision, body (a hash of it) or JSON paths (json.revision)",
    )
    revision_header: str | None = None
    request_timeout: Timeout | None = None

    @field_validator("compare")
    @classmethod
    def _compare(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("name at least one of status, revision, body or a JSON path")
        for item in v:
            if item not in _FIXED:
                json_path(item, "compare")
        if len(set(v)) != len(v):
            raise ValueError("compare lists a field twice")
        return v

    @model_validator(mode="after")
    def _request(self) -> ConsistencyCheck:
        check_references("url", [self.request()], ())
        if self.zones is not None and len(self.zones) < 2:
            raise ValueError(
                "zones: a consistency check compares zones; list at least two "
                "(hint: leave zones out to compare every zone)"
            )
        return self

    def request(self) -> RequestSpec:
        return RequestSpec(url=self.url, method=self.method, headers=self.headers, status=[])

    def secrets(self) -> list[str]:
        return request_secrets(self, [self.request()])

    def rules(self) -> list[Assertion]:
        # ``assert`` rules judge each zone's answer (its step); only budgets judge the run.
        return list(self.budget)


def fingerprint(spec: ConsistencyCheck, seen: Exchange) -> str:
    """What is compared of one zone's answer, as one text."""
    parts = []
    for item in spec.compare:
        if item == "status":
            value = str(seen.status)
        elif item == "revision":
            value = seen.revision
        elif item == "body":
            value = "sha256:" + hashlib.sha256(seen.body).hexdigest()[:16]
        else:
            value = as_text(read_json(seen.body, item))
        parts.append(value if len(spec.compare) == 1 else f"{item}={value}")
    return " ".join(parts)


def judge(by_zone: dict[str, str]) -> tuple[str | None, list[str]]:
    """(majority value, zones that differ). Without a majority every zone is listed as differing
    when they do not all agree."""
    counts = Counter(by_zone.values())
    if len(counts) <= 1:
        return next(iter(counts), None), []
    value, n = counts.most_common(1)[0]
    if n * 2 > len(by_zone):
        return value, [z for z, v in by_zone.items() if v != value]
    return None, list(by_zone)


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def explain(compared: list[str], by_zone: dict[str, str], majority: str | None, differing: list[str]) -> str:
    what = ", ".join(compared)
    if majority is not None:
        agree = [z for z in by_zone if z not in differing]
        return "; ".join(
            f"{z} differs on {what}: {_cut(by_zone[z]) or '(none)'} where {', '.join(agree)} "
            f"{'says' if len(agree) == 1 else 'say'} {_cut(majority) or '(none)'}"
            for z in differing
        )
    each = ", ".join(f"{z}: {_cut(v) or '(none)'}" for z, v in by_zone.items())
    return f"zones disagree on {what}, no majority: {each}"


async def _one(
    spec: ConsistencyCheck, session: Session, zone: str, timeout: float, values: dict[str, str]
) -> tuple[Exchange | None, StepResult]:
    prepared = prepare(spec.request(), values)
    started = session.offset()
    try:
        seen = await send(session, prepared, zone=zone, timeout_seconds=timeout)
    except ProbeError as e:
        failure = Failure(kind=e.kind, message=f"{zone}: {e.message}")
        step = step_of(
            zone,
            [],
            None,
            failure=failure,
            started_offset_seconds=started,
            duration_seconds=session.offset() - started,
            target=prepared.url,
        )
        return None, step
    return seen, step_of(zone, spec.assertions or _ANSWERED, seen)


async def run(spec: CheckBase, ctx: RunContext) -> Seen:
    assert isinstance(spec, ConsistencyCheck)
    zones = [z.name for z in visited_zones(spec, ctx)]
    timeout = spec.request_timeout or spec.timeout or ctx.defaults.timeout
    values = run_values(ctx, new_nonce())
    async with Session(ctx, revision_header=spec.revision_header) as session:
        answers = await asyncio.gather(*(_one(spec, session, z, timeout, values) for z in zones))
    ctx.target = target_of(spec.request(), values, visited_zones(spec, ctx)[0])
    steps = [step for _, step in answers]
    by_zone = {z: fingerprint(spec, seen) for z, (seen, _) in zip(zones, answers, strict=True) if seen}
    majority, differing = judge(by_zone)
    if len(zones) < 2:
        message = f"only {zones[0]} to compare: a consistency check needs a config with two zones or more"
        return Seen(
            view=Observation(), failure=Failure(kind=FailureKind.script, message=message), steps=steps
        )
    observation = ConsistencyObservation(
        compared=list(spec.compare),
        values={z: _cut(v) for z, v in by_zone.items()},
        differing=differing,
        majority=_cut(majority) if majority is not None else None,
    )
    failure: Failure | None = None
    broken = [s for s in steps if s.failure is not None]
    if differing:
        failure = Failure(
            kind=FailureKind.assertion,
            message=explain(spec.compare, by_zone, majority, differing),
            step=differing[0] if majority is not None else None,  # the odd zone out, when there is one
        )
    elif broken:
        first = broken[0].failure
        assert first is not None
        message = "; ".join(f"{s.name}: {s.failure.message}" for s in broken if s.failure is not None)
        failure = Failure(kind=first.kind, message=message, step=broken[0].name)
    return Seen(view=Observation(), observation=observation, failure=failure, steps=steps)


METRICS = (
    Metric("probe_consistency_zones_differing", "gauge", "Zones whose answer differs from the others"),
    Metric("probe_consistency_zones", "gauge", "Zones that answered and were compared"),
)


def samples(result: Result) -> Iterable[Sample]:
    obs = result.observation
    if isinstance(obs, ConsistencyObservation):
        yield "probe_consistency_zones_differing", "", len(obs.differing)
        yield "probe_consistency_zones", "", len(obs.values)


KIND = Kind(spec=ConsistencyCheck, run=run, metrics=METRICS, samples=samples)
