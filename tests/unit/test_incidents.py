"""One incident per partner outage, whatever number of checks and zones saw it (pure fold)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from livesite.incidents import PartnerPolicy, Track, evidence_of, fold, summarize
from livesite.results import Failure, FailureKind, HttpObservation, Result, Status, StepResult

T0 = datetime(2026, 11, 29, 12, tzinfo=UTC)


def _result(check: str, second: int, ok: bool, zone: str = "zone-a", **extra: object) -> Result:
    return Result(
        check=check,
        kind="http",
        zone=zone,
        started_at=T0 + timedelta(seconds=second),
        duration_seconds=0.05 + second / 1000,
        status=Status.ok if ok else Status.failed,
        failure=None if ok else Failure(kind=FailureKind.http, message="HTTP 503"),
        tags={"partner": "payments"},
        target=f"http://partner/{check}",
        observation=HttpObservation(status_code=200 if ok else 503),
        **extra,  # type: ignore[arg-type]
    )


def _feed(track: Track, results: list[Result], policy: PartnerPolicy) -> list[tuple[str, int]]:
    changes = []
    for r in results:
        for partner, seen in evidence_of(r):
            incident = fold(track, partner, seen, policy)
            if incident is not None:
                changes.append((incident.state, incident.failures))
    return changes


def test_failures_from_two_checks_and_zones_open_one_incident_that_resolves() -> None:
    track, policy = Track(failing=[]), PartnerPolicy(open_after=3, resolve_after=2, evidence=2)
    results = [
        _result("partner-health", 0, False),
        _result("partner-widget", 1, False, zone="zone-b"),
        _result("partner-health", 2, False),  # third in a row: opens
        _result("partner-widget", 3, False),  # updates the same record
        _result("partner-health", 4, True),
        _result("partner-widget", 5, True),  # second pass in a row: resolves
    ]
    changes = _feed(track, results, policy)
    assert changes == [("open", 3), ("open", 4), ("resolved", 4)]
    assert track.incident is None


def test_the_record_keeps_first_and_last_failure_and_bounded_evidence() -> None:
    track, policy = Track(failing=[]), PartnerPolicy(open_after=2, evidence=2, contact="ops@partner.test")
    _feed(track, [_result("a", s, False) for s in range(5)], policy)
    incident = track.incident
    assert incident is not None and incident.contact == "ops@partner.test"
    assert incident.first_failure.at == T0 and incident.last_failure.at == T0 + timedelta(seconds=4)
    assert [e.at.second for e in incident.evidence] == [3, 4]
    assert incident.first_failure.status_code == 503 and incident.first_failure.failure == "HTTP 503"
    assert incident.checks == ["a@zone-a"]


def test_a_pass_between_failures_keeps_the_incident_closed() -> None:
    track, policy = Track(failing=[]), PartnerPolicy(open_after=3)
    changes = _feed(
        track, [_result("a", 0, False), _result("a", 1, False), _result("a", 2, True)] * 3, policy
    )
    assert changes == [] and track.incident is None


def test_a_journey_blames_only_its_partner_steps() -> None:
    steps = [
        StepResult(name="login", status=Status.failed, duration_seconds=0.1),
        StepResult(name="pay", status=Status.ok, duration_seconds=0.2, partner="payments"),
    ]
    journey = _result("checkout", 0, False, steps=steps).model_copy(update={"tags": {}})
    found = list(evidence_of(journey))
    assert [(p, e.step, e.passed) for p, e in found] == [("payments", "pay", True)]


def test_summary_says_availability_and_latency_of_the_window() -> None:
    results = [_result("a", s, s % 4 != 0) for s in range(8)]
    summary = summarize("payments", results, T0 + timedelta(seconds=1))
    assert summary.evidence == 7 and summary.failed == 1
    assert summary.availability == 6 / 7
    assert summary.latency_p50_seconds is not None and summary.checks == ["a"]
    assert summarize("nobody", results, T0).availability is None
