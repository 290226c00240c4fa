"""Flap damping: a state per check and zone that changes only after enough agreeing results.

Pure: a result in, maybe a StateChange out. ``failure_threshold`` failures in a row take a check
down; ``success_threshold`` passes in a row bring it back (Gatus's 3 / 2 are the defaults).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from livesite.results import Result, Status
from livesite.states import CheckState, StateChange


@dataclass(slots=True)
class Track:
    state: CheckState = CheckState.unknown
    failures: int = 0  # in a row
    passes: int = 0  # in a row
    since: datetime | None = None  # when the current state began


def observe(
    track: Track, result: Result, failure_threshold: int, success_threshold: int
) -> StateChange | None:
    """Fold one result into ``track`` (mutated); return the change of state, if any."""
    before = track.state
    if result.passed:
        track.passes += 1
        track.failures = 0
        healthy = CheckState.degraded if result.status is Status.degraded else CheckState.up
        if before is not CheckState.down or track.passes >= success_threshold:
            track.state = healthy
    else:
        track.failures += 1
        track.passes = 0
        if track.failures >= failure_threshold:
            track.state = CheckState.down
    if track.state is before:
        return None
    track.since = result.started_at
    return StateChange(
        check=result.check,
        zone=result.zone,
        previous=before,
        current=track.state,
        at=result.started_at,
        result_id=result.id,
        reason=result.reason(),
    )
