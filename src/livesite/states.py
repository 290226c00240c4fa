"""The state of a check in a zone, after flap damping, and the events that mark its changes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class CheckState(StrEnum):
    unknown = "unknown"  # not enough results yet
    up = "up"
    degraded = "degraded"  # passing, but over a budget
    down = "down"


class StateChange(BaseModel):
    """A check changed state in a zone. Alerting consumes these."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str
    zone: str
    previous: CheckState
    current: CheckState
    at: datetime
    result_id: str
    reason: str
