from datetime import UTC, datetime

from livesite.monitor.damping import Track, observe
from livesite.results import Failure, FailureKind, Result, Status
from livesite.states import CheckState


def result(status: Status) -> Result:
    failure = None if status.passed else Failure(kind=FailureKind.http, message="boom")
    return Result(
        check="home",
        kind="http",
        zone="zone-a",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        duration_seconds=0.1,
        status=status,
        failure=failure,
    )


def feed(track: Track, statuses: list[Status], fail: int = 3, succeed: int = 2) -> list[CheckState]:
    states = []
    for status in statuses:
        observe(track, result(status), fail, succeed)
        states.append(track.state)
    return states


def test_the_first_passing_result_brings_a_new_check_up() -> None:
    track = Track()
    change = observe(track, result(Status.ok), 3, 2)
    assert change is not None and change.previous is CheckState.unknown and change.current is CheckState.up


def test_a_check_goes_down_only_after_failure_threshold_failures_in_a_row() -> None:
    track = Track()
    states = feed(
        track,
        [Status.ok, Status.failed, Status.failed, Status.ok, Status.failed, Status.failed, Status.error],
    )
    assert states == [CheckState.up] * 6 + [CheckState.down]


def test_a_down_check_needs_success_threshold_passes_to_come_back() -> None:
    track = Track(state=CheckState.down, failures=3)
    assert feed(track, [Status.ok, Status.failed, Status.ok, Status.ok]) == [
        CheckState.down,
        CheckState.down,
        CheckState.down,
        CheckState.up,
    ]


def test_a_budget_overrun_shows_as_degraded_not_down() -> None:
    track = Track()
    assert feed(track, [Status.ok, Status.degraded, Status.ok]) == [
        CheckState.up,
        CheckState.degraded,
        CheckState.up,
    ]


def test_state_changes_carry_the_reason_from_the_result() -> None:
    track = Track(state=CheckState.up)
    changes = [observe(track, result(Status.failed), 2, 2) for _ in range(2)]
    assert changes[0] is None
    assert changes[1] is not None
    assert changes[1].current is CheckState.down
    assert changes[1].reason == "http: boom"


def test_the_track_remembers_when_its_state_began_not_when_it_was_last_seen() -> None:
    from datetime import timedelta

    track = Track()
    first = result(Status.ok)
    observe(track, first, 3, 2)
    later = first.model_copy(update={"started_at": first.started_at + timedelta(minutes=5)})
    observe(track, later, 3, 2)
    assert track.state is CheckState.up
    assert track.since == first.started_at
