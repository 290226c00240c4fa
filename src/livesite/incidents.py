"""Partner incidents: ONE record per outage of a third party, however many checks saw it fail.

A partner (a payments API, a widget host) is named by the ``partner`` tag of a check, or by the
``partner`` of a journey step. Every Result that speaks to a partner is evidence about it: the
whole Result for a tagged check, only its partner's steps for a journey. :func:`fold` turns that
evidence into at most one open :class:`PartnerIncident` per partner: opened after ``open_after``
failures in a row (from any check or zone), kept up to date with the first and last failure and
a bounded sample of the evidence, resolved after ``resolve_after`` passes in a row. The record is
what the partner's contact will be sent, so it carries the requests, answers and timings — never
secrets: Results are redacted before anything sees them.

Pure: no I/O, no clock; the monitor feeds it and a store keeps what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from livesite.ids import new_id
from livesite.results import Result, StepResult

PARTNER_TAG = "partner"
EVIDENCE_LIMIT = 50  # the most evidence a record may keep, whatever the config asks


class Evidence(BaseModel):
    """One Result (or one journey step) that spoke to the partner."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime
    check: str
    zone: str
    step: str = ""
    result_id: str
    passed: bool
    target: str = ""  # the request: URL or host:port, secrets masked
    status_code: int | None = None  # the answer, when there was one
    failure: str = ""  # why it failed, as the Result says
    duration_seconds: float


class PartnerIncident(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_id)
    partner: str
    contact: str = ""
    state: Literal["open", "resolved"] = "open"
    opened_at: datetime
    resolved_at: datetime | None = None
    updated_at: datetime
    failures: int = 0  # failed pieces of evidence while open
    passes: int = 0
    checks: list[str] = Field(default_factory=list)  # "check@zone" that saw it fail
    first_failure: Evidence
    last_failure: Evidence
    evidence: list[Evidence] = Field(default_factory=list)  # the newest, bounded

    @property
    def open(self) -> bool:
        return self.state == "open"


@dataclass(frozen=True, slots=True)
class PartnerPolicy:
    """When to open and resolve, and whom to tell (from the config's ``partners:``)."""

    open_after: int = 3
    resolve_after: int = 2
    evidence: int = 10
    contact: str = ""


@dataclass(slots=True)
class Track:
    """What :func:`fold` keeps per partner between pieces of evidence."""

    failing: list[Evidence]  # failures in a row before an incident opens
    passing: int = 0
    incident: PartnerIncident | None = None


def evidence_of(result: Result) -> Iterator[tuple[str, Evidence]]:
    """(partner, evidence) pairs a Result gives: its partner steps, or the whole Result if tagged."""
    stepped = [s for s in result.steps if s.partner]
    if stepped:
        for step in stepped:
            yield step.partner, _of_step(result, step)
        return
    partner = result.tags.get(PARTNER_TAG)
    if partner:
        code = getattr(result.observation, "status_code", None)
        yield (
            partner,
            Evidence(
                at=result.started_at,
                check=result.check,
                zone=result.zone,
                result_id=result.id,
                passed=result.passed,
                target=result.target,
                status_code=code or None,
                failure=result.failure.message if result.failure is not None else "",
                duration_seconds=result.duration_seconds,
            ),
        )


def _of_step(result: Result, step: StepResult) -> Evidence:
    code = getattr(step.observation, "status_code", None)
    return Evidence(
        at=result.started_at,
        check=result.check,
        zone=result.zone,
        step=step.name,
        result_id=result.id,
        passed=step.status.passed,
        target=step.target,
        status_code=code or None,
        failure=step.failure.message if step.failure is not None else "",
        duration_seconds=step.duration_seconds,
    )


def fold(track: Track, partner: str, seen: Evidence, policy: PartnerPolicy) -> PartnerIncident | None:
    """Add one piece of evidence; return the incident when it opened, changed or resolved."""
    incident = track.incident
    if incident is not None:
        incident.updated_at = seen.at
        if seen.passed:
            track.passing += 1
            incident.passes += 1
            if track.passing >= policy.resolve_after:
                incident.state = "resolved"
                incident.resolved_at = seen.at
                track.incident = None
                track.passing = 0
                return incident
            return None
        track.passing = 0
        _add_failure(incident, seen, policy)
        return incident
    if seen.passed:
        track.failing.clear()
        return None
    track.failing.append(seen)
    if len(track.failing) < policy.open_after:
        return None
    first = track.failing[0]
    incident = PartnerIncident(
        partner=partner,
        contact=policy.contact,
        opened_at=seen.at,
        updated_at=seen.at,
        first_failure=first,
        last_failure=seen,
    )
    for failed in track.failing:
        _add_failure(incident, failed, policy)
    track.failing.clear()
    track.passing = 0
    track.incident = incident
    return incident


def _add_failure(incident: PartnerIncident, seen: Evidence, policy: PartnerPolicy) -> None:
    incident.failures += 1
    incident.last_failure = seen
    where = f"{seen.check}@{seen.zone}"
    if where not in incident.checks and len(incident.checks) < EVIDENCE_LIMIT:
        incident.checks.append(where)
    keep = max(1, min(policy.evidence, EVIDENCE_LIMIT))
    incident.evidence = [*incident.evidence, seen][-keep:]


class PartnerSummary(BaseModel):
    """A partner over a window: how available and how fast it was, and its open incident."""

    model_config = ConfigDict(extra="forbid")

    partner: str
    contact: str = ""
    since: datetime
    checks: list[str] = Field(default_factory=list)
    evidence: int = 0
    failed: int = 0
    availability: float | None = None  # passed / evidence; None without evidence
    latency_p50_seconds: float | None = None
    latency_p95_seconds: float | None = None
    open_incident: PartnerIncident | None = None


def summarize(
    partner: str, results: Iterable[Result], since: datetime, *, contact: str = ""
) -> PartnerSummary:
    """What ``results`` (any, in any order) say about ``partner`` since ``since``."""
    seen = [e for r in results for p, e in evidence_of(r) if p == partner and e.at >= since]
    durations = sorted(e.duration_seconds for e in seen if e.passed)
    failed = sum(1 for e in seen if not e.passed)
    return PartnerSummary(
        partner=partner,
        contact=contact,
        since=since,
        checks=sorted({e.check for e in seen}),
        evidence=len(seen),
        failed=failed,
        availability=(len(seen) - failed) / len(seen) if seen else None,
        latency_p50_seconds=_quantile(durations, 0.5),
        latency_p95_seconds=_quantile(durations, 0.95),
    )


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]
