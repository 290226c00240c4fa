"""The monkey against real processes and a real store: leashed it only records, unleashed it kills —
recorded before — and it skips while a rollout is in progress or the monitor reports an outage."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from cli_runner import livesite
from livesite.chaos.leases import FaultBook
from livesite.chaos.monkey import Monkey, Planned
from livesite.config.monkey import MonkeySettings
from livesite.states import CheckState, StateChange
from livesite.store import open_store
from livesite.store.leases import open_leases
from livesite.store.monkey import MonkeyEvent, monkey_events_of
from livesite.store.rollouts import RolloutRecord, rollouts_of


def _wait(probe: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not probe():
        assert time.monotonic() < deadline
        time.sleep(0.05)


async def _monkey(tmp_path: Path, tag: str, leashed: bool, seen: list[MonkeyEvent]):  # type: ignore[no-untyped-def]
    store = await open_store(f"sqlite:///{tmp_path / 'm.db'}")
    settings = MonkeySettings.model_validate(
        {
            "leashed": leashed,
            "groups": [{"name": "victims", "fault": {"type": "process", "select": {"pattern": tag}}}],
        }
    )
    events = monkey_events_of(store)
    assert events is not None
    monkey = Monkey(
        settings,
        FaultBook(await open_leases(store)),
        events,
        rollouts=rollouts_of(store),
        history=store,
        on_event=lambda e: seen.append(e.model_copy()),
    )
    return store, monkey


NOW = Planned(date.today(), "victims", datetime.now(tz=UTC))


async def test_leashed_it_records_the_kill_it_would_do_and_kills_nothing(victims, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tag, (victim,) = victims(1)
    seen: list[MonkeyEvent] = []
    store, monkey = await _monkey(tmp_path, tag, True, seen)
    try:
        event = await monkey.act(NOW)
        assert event.action == "would-kill" and f"pid {victim.pid}" in event.targets[0]
        assert victim.poll() is None
        assert [e.state for e in seen] == ["planned", "done"], "recorded before anything happens"
        stored = await monkey.events.events()
        assert [e.action for e in stored] == ["would-kill"]
    finally:
        await store.close()


async def test_unleashed_it_kills_one_of_its_group(victims, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tag, procs = victims(2)
    _, (bystander,) = victims(1)
    seen: list[MonkeyEvent] = []
    store, monkey = await _monkey(tmp_path, tag, False, seen)
    try:
        event = await monkey.act(NOW)
        assert event.action == "kill" and event.state == "done", event.reason
        _wait(lambda: sum(p.poll() is not None for p in procs) == 1)
        assert bystander.poll() is None
        assert seen[0].state == "planned" and seen[-1].state == "done"
    finally:
        await store.close()


async def test_it_skips_during_a_rollout_and_during_an_outage(victims, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tag, (victim,) = victims(1)
    store, monkey = await _monkey(tmp_path, tag, False, [])
    try:
        rollouts = rollouts_of(store)
        assert rollouts is not None
        now = datetime.now(tz=UTC)
        busy = RolloutRecord(name="shop", phase="progressing", started_at=now, updated_at=now)
        await rollouts.save(busy)
        event = await monkey.act(NOW)
        assert event.action == "skip" and "rollout is in progress (shop)" in event.reason
        busy.phase = "promoted"
        await rollouts.save(busy)
        await store.add_events(
            [
                StateChange(
                    check="home",
                    zone="zone-a",
                    previous=CheckState.up,
                    current=CheckState.down,
                    at=now,
                    result_id="r1",
                    reason="HTTP 503",
                )
            ]
        )
        event = await monkey.act(NOW)
        assert event.action == "skip" and "outage (home@zone-a)" in event.reason
        assert victim.poll() is None
    finally:
        await store.close()


def test_the_dry_run_prints_the_schedule_with_holidays_and_freezes(tmp_path: Path) -> None:
    today = date.today()
    config = tmp_path / "monkey.yaml"
    config.write_text(
        f"""
monkey:
  timezone: Europe/Paris
  seed: 3
  workdays: [mon, tue, wed, thu, fri, sat, sun]
  holidays: ["{today.isoformat()}"]
  freezes: [{{start: "2000-01-01T00:00", end: "2000-01-02T00:00", reason: migration}}]
  groups:
    - {{name: shops, mean_time_between_kills: 1, fault: {{type: process, select: {{pattern: nothing-matches}}}}}}
"""
    )
    done = livesite("monkey", str(config), "--dry-run", "--days", "10")
    assert done.returncode == 0, done.stderr
    assert "holiday" in done.stdout and "9 kills planned in 10 days" in done.stdout
    assert "leashed" in done.stdout
