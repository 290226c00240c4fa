"""The monitor folds Results into states for several listeners, and starts from the states it had."""

from __future__ import annotations

from datetime import UTC, datetime

from livesite.config import loads
from livesite.monitor import Monitor, plan
from livesite.results import Failure, FailureKind, Result, Status
from livesite.states import CheckState, StateChange

CONFIG = """
zones: [{name: a, base_url: "http://127.0.0.1:1"}]
defaults: {failure_threshold: 1, success_threshold: 1}
checks: [{name: home, url: /}]
"""


def result(status: Status, minute: int) -> Result:
    failure = None if status.passed else Failure(kind=FailureKind.connect, message="refused")
    return Result(
        check="home",
        kind="http",
        zone="a",
        started_at=datetime(2026, 1, 1, 0, minute, tzinfo=UTC),
        duration_seconds=0.1,
        status=status,
        failure=failure,
    )


def test_every_subscriber_hears_every_change_of_state() -> None:
    config = loads(CONFIG)
    monitor = Monitor(config, plan(config))
    alerts: list[StateChange] = []
    page: list[StateChange] = []
    results: list[Result] = []
    monitor.on_change(alerts.append)
    monitor.on_change(page.append)
    monitor.on_result(results.append)
    [job] = monitor.plan.jobs
    for i, status in enumerate([Status.ok, Status.ok, Status.error, Status.ok]):
        monitor.record(job, result(status, i))
    assert [c.current for c in alerts] == [CheckState.up, CheckState.down, CheckState.up]
    assert page == alerts
    assert len(results) == 4


class StoredStates:
    """What a store answers to ``latest_states``: the last change per check and zone."""

    def __init__(self, changes: list[StateChange]) -> None:
        self.changes = changes

    async def latest_states(self) -> list[StateChange]:
        return self.changes


async def test_a_restarted_monitor_starts_from_the_stored_states_and_announces_nothing_new() -> None:
    config = loads(CONFIG)
    down_since = datetime(2026, 1, 1, tzinfo=UTC)
    before = StateChange(
        check="home",
        zone="a",
        previous=CheckState.up,
        current=CheckState.down,
        at=down_since,
        result_id="x",
        reason="connect: refused",
    )
    monitor = Monitor(config, plan(config), history=StoredStates([before]))
    await monitor.seed()
    [status] = monitor.snapshot()
    assert (status.state, status.since) == (CheckState.down, down_since)
    heard: list[StateChange] = []
    monitor.on_change(heard.append)
    [job] = monitor.plan.jobs
    monitor.record(job, result(Status.error, 5))  # still down: no "unknown → down" again
    assert heard == []
    monitor.record(job, result(Status.ok, 6))
    assert [(c.previous, c.current) for c in heard] == [(CheckState.down, CheckState.up)]
