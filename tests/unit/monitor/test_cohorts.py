"""A check run per cohort is planned as one job per cohort and zone, and keeps a state per cohort:
its /metrics series never collide."""

from __future__ import annotations

from datetime import UTC, datetime

from livesite.config import loads
from livesite.monitor import Monitor, plan
from livesite.monitor.metrics import render, snapshot
from livesite.results import Result, Status

CONFIG = """
zones: [{name: zone-a, base_url: "http://127.0.0.1:9"}, {name: zone-b, base_url: "http://127.0.0.1:9"}]
users:
  cohorts:
    - {name: free-eu, users: [{id: f1, username: f1@example.test, password: p-f1-secret}]}
    - {name: pro-us, users: [{id: p1, username: p1@example.test, password: p-p1-secret}]}
checks:
  - name: home
    url: /
  - name: checkout
    kind: journey
    cohorts: [free-eu, pro-us]
    steps: [{name: home, url: /}]
"""


def test_a_check_with_cohorts_is_one_job_per_cohort_and_zone() -> None:
    config = loads(CONFIG)
    jobs = plan(config).jobs
    keyed = sorted((j.check.name, j.zone, j.identity.cohort) for j in jobs)
    assert keyed == [
        ("checkout", "zone-a", "free-eu"),
        ("checkout", "zone-a", "pro-us"),
        ("checkout", "zone-b", "free-eu"),
        ("checkout", "zone-b", "pro-us"),
        ("home", "zone-a", ""),
        ("home", "zone-b", ""),
    ]
    assert len({j.key for j in jobs}) == len(jobs), "every job has its own key (schedule and state)"


def test_each_cohort_has_its_own_state_series_in_metrics() -> None:
    config = loads(CONFIG)
    runs = plan(config, zones=["zone-a"])
    monitor = Monitor(config, runs)
    for job in runs.jobs:
        status = Status.failed if job.identity.cohort == "pro-us" else Status.ok
        monitor.record(
            job,
            Result(
                check=job.check.name,
                kind=job.check.kind,
                zone=job.zone,
                cohort=job.identity.cohort,
                user={"free-eu": "f1", "pro-us": "p1"}.get(job.identity.cohort, ""),
                started_at=datetime.now(UTC),
                duration_seconds=0.01,
                status=status,
            ),
        )
    text = render(snapshot(monitor))
    series = [line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")]
    assert len(series) == len(set(series)), "no series is exported twice"
    assert 'livesite_check_state{check="checkout",zone="zone-a",cohort="pro-us",state="unknown"} 1' in text
    assert 'probe_success{check="checkout",zone="zone-a",cohort="free-eu"' in text


def test_a_journey_exports_each_step_s_duration_and_success() -> None:
    from livesite.checks.journey import samples
    from livesite.results import StepResult

    result = Result(
        check="checkout",
        kind="journey",
        zone="zone-a",
        started_at=datetime.now(UTC),
        duration_seconds=0.3,
        status=Status.failed,
        steps=[
            StepResult(name="login", status=Status.ok, duration_seconds=0.1),
            StepResult(name="pay", status=Status.failed, duration_seconds=0.2),
        ],
    )
    assert list(samples(result)) == [
        ("livesite_journey_step_duration_seconds", 'step="login"', 0.1),
        ("livesite_journey_step_success", 'step="login"', 1.0),
        ("livesite_journey_step_duration_seconds", 'step="pay"', 0.2),
        ("livesite_journey_step_success", 'step="pay"', 0.0),
    ]
