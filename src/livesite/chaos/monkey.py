"""The monkey: Chaos Monkey's schedule, and the kills it carries out (or, leashed, only records).

The schedule is pure: for each day and each termination group, a kill happens on a workday with
probability 1 / mean-time-between-kills, at a uniformly random minute inside business hours in the
monkey's time zone — unless the day is a holiday, the moment falls in a freeze, or the group's last
kill is closer than its ``min_gap``. Randomness is drawn from (seed, day, group), so a dry run of the
next 30 days shows exactly what the monkey will do.

At the moment of a kill, two more things are asked of the live system (through the store): is a
rollout in progress? does the monitor report an outage? Either skips the kill. Every kill — done,
leashed or skipped — is recorded before anything happens, and announced (webhook).
"""

from __future__ import annotations

import hashlib
import logging
import random
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import httpx
from pydantic import TypeAdapter

from livesite.chaos.faults import FAULTS, FaultError
from livesite.chaos.leases import FaultBook
from livesite.chaos.spec import ProcessFault
from livesite.clock import Clock, SystemClock
from livesite.config.monkey import WEEKDAYS, Group, MonkeySettings
from livesite.states import CheckState
from livesite.store.base import StateHistory
from livesite.store.monkey import MonkeyEvent, MonkeyEvents
from livesite.store.rollouts import RolloutStore

log = logging.getLogger(__name__)
_PROCESS: TypeAdapter[ProcessFault] = TypeAdapter(ProcessFault)


@dataclass(frozen=True, slots=True)
class Planned:
    """One day's decision for one group: a kill at ``at``, or why there is none."""

    day: date
    group: str
    at: datetime | None  # aware, in the monkey's time zone
    skipped: str = ""  # "weekend", "holiday", "no kill drawn", "freeze: ...", "min gap ..."


def _rng(seed: int | None, day: date, group: str) -> random.Random:
    key = f"{seed if seed is not None else 0}:{day.isoformat()}:{group}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def _frozen(settings: MonkeySettings, at: datetime) -> str:
    local = at.replace(tzinfo=None)
    for freeze in settings.freezes:
        if freeze.start <= local < freeze.end:
            return f"freeze{': ' + freeze.reason if freeze.reason else ''} ({freeze.start:%Y-%m-%d %H:%M} → {freeze.end:%Y-%m-%d %H:%M})"
    return ""


def day_plan(settings: MonkeySettings, group: Group, day: date, last_kill: datetime | None) -> Planned:
    """What the monkey does to ``group`` on ``day`` (pure)."""
    zone = zoneinfo.ZoneInfo(settings.timezone)
    if WEEKDAYS[day.weekday()] not in settings.workdays:
        return Planned(day, group.name, None, "not a workday")
    if day in settings.holidays:
        return Planned(day, group.name, None, "holiday")
    rng = _rng(settings.seed, day, group.name)
    if rng.random() >= 1.0 / group.mean_time_between_kills:
        return Planned(day, group.name, None, "no kill drawn today")
    minutes = (settings.end_hour - settings.start_hour) * 60
    offset = rng.randrange(minutes)
    at = datetime.combine(day, time(settings.start_hour), tzinfo=zone) + timedelta(minutes=offset)
    frozen = _frozen(settings, at)
    if frozen:
        return Planned(day, group.name, None, frozen)
    if last_kill is not None and (at - last_kill).total_seconds() < group.min_gap:
        return Planned(day, group.name, None, f"min gap: last kill {last_kill:%Y-%m-%d %H:%M}")
    return Planned(day, group.name, at)


def schedule(settings: MonkeySettings, start: date, days: int) -> Iterator[Planned]:
    """Every group's plan for ``days`` days from ``start``, in time order within each day."""
    last: dict[str, datetime | None] = {g.name: None for g in settings.groups}
    for n in range(days):
        day = start + timedelta(days=n)
        plans = [day_plan(settings, g, day, last[g.name]) for g in settings.groups]
        for plan in sorted(plans, key=lambda p: (p.at is None, p.at.timestamp() if p.at else 0.0, p.group)):
            if plan.at is not None:
                last[plan.group] = plan.at
            yield plan


ROLLING = frozenset({"pending", "progressing", "paused", "promoting"})


class Monkey:
    """Carries out the schedule against the live system, asking the store before every kill."""

    def __init__(
        self,
        settings: MonkeySettings,
        book: FaultBook,
        events: MonkeyEvents,
        *,
        rollouts: RolloutStore | None = None,
        history: StateHistory | None = None,
        clock: Clock | None = None,
        on_event: Callable[[MonkeyEvent], None] | None = None,
    ) -> None:
        self.settings = settings
        self.book = book
        self.events = events
        self.rollouts = rollouts
        self.history = history
        self.clock = clock or SystemClock()
        self.on_event = on_event or (lambda _: None)
        self._groups = {g.name: g for g in settings.groups}

    async def _why_not(self) -> str:
        if self.rollouts is not None:
            busy = [r.name for r in await self.rollouts.records() if r.phase in ROLLING]
            if busy:
                return f"a rollout is in progress ({', '.join(busy)})"
        if self.history is not None:
            down = [
                f"{s.check}@{s.zone}"
                for s in await self.history.latest_states()
                if s.current == CheckState.down
            ]
            if down:
                return f"the monitor reports an outage ({', '.join(down[:5])})"
        return ""

    async def act(self, plan: Planned) -> MonkeyEvent:
        """One planned kill, now: skipped, leashed (recorded only) or done — recorded before it happens."""
        assert plan.at is not None
        group = self._groups[plan.group]
        why_not = await self._why_not()
        if why_not:
            event = MonkeyEvent(at=plan.at, group=group.name, action="skip", state="done", reason=why_not)
            await self._announce(event)
            return event
        spec = _PROCESS.validate_python(group.fault)
        candidates = list(await FAULTS["process"].resolve(spec))
        if not candidates:
            event = MonkeyEvent(
                at=plan.at, group=group.name, action="skip", state="done", reason="no process matches"
            )
            await self._announce(event)
            return event
        target = random.Random(plan.at.timestamp()).choice(candidates)
        action = "would-kill" if self.settings.leashed else "kill"
        event = MonkeyEvent(at=plan.at, group=group.name, action=action, targets=[target.description])
        await self._announce(event)  # recorded (and told) before anything happens
        if self.settings.leashed:
            event.state, event.reason = "done", "leashed: nothing was killed"
        else:
            try:
                held = await self.book.apply(f"monkey-{group.name}", spec, target, 60.0)
                await self.book.revert(held)  # a kill has nothing to undo: this releases the lease
                event.state = "done"
            except FaultError as e:
                event.state, event.reason = "failed", str(e)
        await self._announce(event)
        return event

    async def _announce(self, event: MonkeyEvent) -> None:
        await self.events.record(event)
        self.on_event(event)
        if self.settings.webhook:
            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    await client.post(self.settings.webhook, json=event.model_dump(mode="json"))
            except httpx.HTTPError as e:
                log.warning("monkey webhook %s failed: %s", self.settings.webhook, e)

    async def run(self, days: int = 365 * 10) -> None:
        """Sleep until each planned kill and carry it out, until cancelled."""
        zone = zoneinfo.ZoneInfo(self.settings.timezone)
        now = datetime.fromtimestamp(self.clock.time(), tz=zone)
        for plan in schedule(self.settings, now.date(), days):
            if plan.at is None or plan.at <= now:
                continue
            await self.clock.sleep(max(0.0, plan.at.timestamp() - self.clock.time()))
            await self.act(plan)
