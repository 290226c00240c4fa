"""``monkey:`` in the config: Chaos Monkey's schedule — groups, business hours, holidays, freezes.

Leashed (dry: it records what it would kill) unless ``leashed: false`` is written down explicitly.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from livesite.config.models import Model, Name
from livesite.config.types import Seconds

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Freeze(Model):
    """No kill between ``start`` and ``end`` (local time of the monkey's time zone)."""

    start: datetime
    end: datetime
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Freeze:
        if self.end <= self.start:
            raise ValueError(f"a freeze ends ({self.end}) before it starts ({self.start})")
        return self


class Group(Model):
    """A termination group: the processes one kill may pick from, and how often."""

    name: Name
    mean_time_between_kills: float = Field(
        5.0, ge=1.0, le=1000, description="in workdays: a kill happens on a workday with probability 1/this"
    )
    min_gap: Seconds = Field(0.0, ge=0, description="never two kills of this group closer than this")
    fault: dict[str, Any] = Field(description="a process fault, as in an experiment's method")

    @field_validator("fault")
    @classmethod
    def _process(cls, v: dict[str, Any]) -> dict[str, Any]:
        if v.get("type") != "process":
            raise ValueError("the monkey only kills processes (hint: fault: {type: process, select: {...}})")
        return v


class MonkeySettings(Model):
    leashed: bool = Field(True, description="dry: record what would be killed; set false to unleash")
    timezone: str = "UTC"
    start_hour: int = Field(9, ge=0, le=23)
    end_hour: int = Field(15, ge=1, le=24)
    workdays: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    holidays: list[date] = Field(default_factory=list)
    freezes: list[Freeze] = Field(default_factory=list)
    webhook: str | None = Field(None, description="POSTed every kill (and would-be kill), before it happens")
    seed: int | None = Field(None, description="fix the schedule's randomness (tests, dry runs)")
    groups: list[Group] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (hint: an IANA name such as Europe/Paris)") from None
        return v

    @model_validator(mode="after")
    def _hours(self) -> MonkeySettings:
        if self.end_hour <= self.start_hour:
            raise ValueError(f"end_hour {self.end_hour} is not after start_hour {self.start_hour}")
        return self
