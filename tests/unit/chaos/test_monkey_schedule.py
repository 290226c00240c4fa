"""The monkey's schedule is pure: workdays, business hours in its time zone, holidays, freezes, gaps."""

from __future__ import annotations

import itertools
import zoneinfo
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from livesite.chaos.monkey import schedule
from livesite.config.monkey import MonkeySettings

GROUP = {
    "name": "shops",
    "mean_time_between_kills": 1.0,
    "fault": {"type": "process", "select": {"pattern": "x"}},
}


def _settings(**extra: object) -> MonkeySettings:
    return MonkeySettings.model_validate({"timezone": "Europe/Paris", "seed": 7, "groups": [GROUP], **extra})


def test_every_kill_is_on_a_workday_inside_business_hours_local_time() -> None:
    plans = list(schedule(_settings(start_hour=10, end_hour=12), date(2026, 11, 30), 60))
    kills = [p for p in plans if p.at is not None]
    assert kills and all(p.at.weekday() < 5 for p in kills)  # type: ignore[union-attr]
    assert all(10 <= p.at.hour < 12 for p in kills)  # type: ignore[union-attr]
    assert all(p.at.tzinfo == zoneinfo.ZoneInfo("Europe/Paris") for p in kills)  # type: ignore[union-attr]
    weekends = [p for p in plans if p.day.weekday() >= 5]
    assert weekends and all(p.at is None and p.skipped == "not a workday" for p in weekends)


def test_holidays_and_freezes_are_never_touched_and_say_why() -> None:
    chosen = _settings(
        holidays=["2026-12-25"],
        freezes=[{"start": "2026-12-14T00:00", "end": "2026-12-19T00:00", "reason": "peak season"}],
    )
    plans = {p.day: p for p in schedule(chosen, date(2026, 12, 1), 31)}
    assert plans[date(2026, 12, 25)].skipped == "holiday"
    for day in range(14, 19):
        assert plans[date(2026, 12, day)].at is None
        assert "peak season" in plans[date(2026, 12, day)].skipped


def test_the_min_gap_keeps_kills_apart() -> None:
    gap = {**GROUP, "min_gap": "3d"}
    kills = [p.at for p in schedule(_settings(groups=[gap]), date(2026, 1, 5), 90) if p.at is not None]
    assert len(kills) >= 5
    assert all((b - a) >= timedelta(days=3) for a, b in itertools.pairwise(kills))  # type: ignore[operator]


def test_a_kill_happens_on_about_one_workday_in_mean_time_between_kills() -> None:
    every_fifth = {**GROUP, "mean_time_between_kills": 5.0}
    plans = list(schedule(_settings(groups=[every_fifth]), date(2026, 1, 5), 1400))
    workdays = sum(1 for p in plans if p.skipped != "not a workday")
    kills = sum(1 for p in plans if p.at is not None)
    assert 0.15 < kills / workdays < 0.25, (kills, workdays)


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    first = [p.at for p in schedule(_settings(), date(2026, 3, 2), 30)]
    assert first == [p.at for p in schedule(_settings(), date(2026, 3, 2), 30)]
    assert first != [p.at for p in schedule(_settings(seed=8), date(2026, 3, 2), 30)]


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(0, 22),
    length=st.integers(1, 10),
    zone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]),
    seed=st.integers(0, 10_000),
    first=st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 1, 1)),
)
def test_any_schedule_keeps_to_its_hours(start: int, length: int, zone: str, seed: int, first: date) -> None:
    end = min(24, start + length)
    chosen = MonkeySettings.model_validate(
        {"timezone": zone, "seed": seed, "start_hour": start, "end_hour": end, "groups": [GROUP]}
    )
    for plan in schedule(chosen, first, 14):
        if plan.at is not None:
            local = plan.at.astimezone(zoneinfo.ZoneInfo(zone))
            # A DST jump can push a wall-clock time by an hour; never outside the day or the weekdays.
            assert local.date() == plan.day and local.weekday() < 5
            assert start <= local.hour <= end
