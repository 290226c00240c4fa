"""The experiment runner: steady state before, the method of faults, reverts that always run, after.

1. **Plan.** Every fault's targets are resolved and cut to the blast radius before anything is
   touched (``--dry-run`` prints this plan and stops).
2. **Before.** The hypothesis must hold over its window, or nothing is injected.
3. **Method.** Each fault: its lease written, then injected, held for its duration while the hypothesis
   is probed every interval; a round that breaks it, confirmed by the next, aborts the method (so
   within two probe intervals). A halt (``livesite chaos halt``) stops it at the next look.
4. **Reverts** run whatever happened — failure, abort, Ctrl-C, SIGTERM, a halt — each retried; one that
   keeps failing is reported and its lease kept for ``recover``. Never dropped silently.
5. **After.** The hypothesis again; the journal says whether the system ``deviated``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from livesite.chaos.faults import FAULTS, FaultError, Target
from livesite.chaos.hypothesis import Hypothesis, Judgement, judge
from livesite.chaos.leases import FaultBook, Held
from livesite.chaos.spec import Action, Experiment, FaultSpec, ProcessFault
from livesite.clock import Clock, SystemClock
from livesite.errors import LivesiteError
from livesite.results import Result

log = logging.getLogger(__name__)


class PlannedFault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: int
    type: str
    targets: list[Target]
    candidates: int  # how many matched the selector, before the blast radius cut them
    duration_seconds: float
    ttl_seconds: float


class FaultRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: int
    type: str
    target: Target
    injected_at: datetime | None = None
    reverted_at: datetime | None = None
    error: str = ""


class Journal(BaseModel):
    """What happened, as Chaos Toolkit's journal says it: ``status`` and whether the system ``deviated``."""

    model_config = ConfigDict(extra="forbid")

    experiment: str
    started_at: datetime
    ended_at: datetime | None = None
    status: Literal["completed", "aborted", "failed", "interrupted", "halted"] = "completed"
    deviated: bool = False
    reason: str = ""
    plan: list[PlannedFault] = Field(default_factory=list)
    before: Judgement | None = None
    during: list[Judgement] = Field(default_factory=list)  # one per probe round while a fault was on
    during_overall: Judgement | None = None  # every run while a fault was on, held to the tolerance
    after: Judgement | None = None
    faults: list[FaultRun] = Field(default_factory=list)
    revert_errors: list[str] = Field(default_factory=list)


class BlastRadiusError(LivesiteError):
    """A fault would touch more than the experiment allows; nothing was touched."""


class _Stop(Exception):
    def __init__(self, status: Literal["aborted", "halted", "interrupted"], reason: str) -> None:
        self.status = status
        self.reason = reason


class Runner:
    def __init__(
        self,
        experiment: Experiment,
        book: FaultBook,
        hypothesis: Hypothesis | None = None,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.experiment = experiment
        self.book = book
        self.hypothesis = hypothesis
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.on_event = on_event or (lambda _: None)
        self.journal = Journal(experiment=experiment.name, started_at=self._now())
        # Set by Ctrl-C / SIGTERM: the method stops at the next look and every fault is reverted.
        self.interrupt = asyncio.Event()
        self._held: list[tuple[FaultRun, Held]] = []
        self._during: list[Result] = []

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), tz=UTC)

    def _say(self, text: str) -> None:
        log.info("%s: %s", self.experiment.name, text)
        self.on_event(text)

    # -- plan ---------------------------------------------------------------------------------------------
    async def plan(self) -> list[PlannedFault]:
        """Resolve every fault's targets and hold them to the blast radius. Touches nothing."""
        planned = []
        radius = self.experiment.blast_radius
        for step, action in enumerate(self.experiment.method):
            if action.fault is None:
                continue
            found = list(await FAULTS[action.fault.type].resolve(action.fault))
            if not found:
                raise FaultError(f"method step {step + 1}: no target matches its {action.fault.type} fault")
            wanted = action.fault.count if isinstance(action.fault, ProcessFault) else len(found)
            allowed = min(radius.max_targets, max(1, math.floor(len(found) * radius.max_percent / 100)))
            if wanted > allowed:
                raise BlastRadiusError(
                    f"method step {step + 1} would touch {wanted} of {len(found)} targets; the blast radius "
                    f"allows {allowed} (max_targets {radius.max_targets}, max_percent {radius.max_percent:g}%)",
                    hint="lower count:, or raise blast_radius: if that many is really meant",
                )
            chosen = self.rng.sample(found, wanted) if wanted < len(found) else found
            planned.append(
                PlannedFault(
                    step=step,
                    type=action.fault.type,
                    targets=chosen,
                    candidates=len(found),
                    duration_seconds=action.duration,
                    ttl_seconds=action.lease_seconds,
                )
            )
        self.journal.plan = planned
        return planned

    # -- run ----------------------------------------------------------------------------------------------
    async def run(self) -> Journal:
        journal = self.journal
        try:
            plan = {p.step: p for p in await self.plan()}
            if self.hypothesis is not None:
                journal.before = await self._window("before")
                if not journal.before.holds:
                    journal.status, journal.reason = (
                        "failed",
                        f"steady state does not hold before: {journal.before.reason}",
                    )
                    self._say(journal.reason)
                    return journal
            try:
                for step, action in enumerate(self.experiment.method):
                    await self._check_halt()
                    if action.fault is None:
                        self._say(f"pause {action.pause:g}s")
                        await self._hold(float(action.pause or 0), probe=False)
                        continue
                    await self._fault(step, action, action.fault, plan[step])
            except _Stop as stop:
                journal.status, journal.reason = stop.status, stop.reason
                self._say(f"{stop.status}: {stop.reason}")
            finally:
                await self._revert_all()  # also when cancelled: the cancellation was delivered above
            if self.hypothesis is not None and self._during:
                # A blip within the tolerance is no deviation: the whole method is held to it.
                journal.during_overall = judge(self._during, self.hypothesis.steady)
                if not journal.during_overall.holds:
                    journal.deviated = True
                    journal.reason = (
                        journal.reason
                        or f"steady state broke during the method: {journal.during_overall.reason}"
                    )
            if self.hypothesis is not None and journal.status == "completed":
                journal.after = await self._window("after")
                if not journal.after.holds:
                    journal.deviated = True
                    journal.reason = f"steady state does not hold after: {journal.after.reason}"
        except asyncio.CancelledError:
            journal.status, journal.reason = "interrupted", "interrupted; every fault was reverted"
            raise
        except LivesiteError as e:
            journal.status, journal.reason = "failed", str(e)
            self._say(f"failed: {e}")
        finally:
            journal.ended_at = self._now()
        return journal

    async def _fault(self, step: int, action: Action, fault: FaultSpec, planned: PlannedFault) -> None:
        ttl = action.lease_seconds
        for target in planned.targets:
            run = FaultRun(step=step, type=fault.type, target=target)
            self.journal.faults.append(run)
            held = await self.book.apply(self.experiment.name, fault, target, ttl)
            run.injected_at = self._now()
            self._held.append((run, held))
            self._say(
                f"injected {fault.type} on {target.description} for {action.duration:g}s (lease {ttl:g}s)"
            )
        await self._hold(action.duration, probe=True)
        await self._revert_all()

    async def _hold(self, seconds: float, *, probe: bool) -> None:
        """Wait ``seconds``, probing the hypothesis every interval (when ``probe``) and looking for a halt."""
        end = self.clock.monotonic() + seconds
        interval = self.experiment.steady_state.interval if self.experiment.steady_state else 0.5
        broken = 0
        while self.clock.monotonic() < end:
            await self._check_halt()
            if probe and self.hypothesis is not None:
                results = await self.hypothesis.round()
                self._during += results
                seen = judge(results, self.hypothesis.steady)
                self.journal.during.append(seen)
                if seen.holds:
                    broken = 0
                else:
                    broken += 1
                    self._say(f"steady state broken in this round: {seen.reason}")
                    # Two rounds in a row: one failed run must not end an experiment, two intervals must.
                    if broken >= 2 and self.experiment.abort_on_violation:
                        self.journal.deviated = True
                        raise _Stop("aborted", f"the steady state broke during the method: {seen.reason}")
            await self.clock.sleep(min(interval, max(0.0, end - self.clock.monotonic())))

    async def _check_halt(self) -> None:
        if self.interrupt.is_set():
            raise _Stop("interrupted", "interrupted (Ctrl-C or SIGTERM); every fault was reverted")
        if await self.book.halted():
            raise _Stop("halted", "halted by `livesite chaos halt`")

    async def _revert_all(self) -> None:
        while self._held:
            run, held = self._held.pop()
            try:
                await self.book.revert(held)
                run.reverted_at = self._now()
                self._say(f"reverted {held.target.description}")
            except FaultError as e:
                run.error = str(e)
                self.journal.revert_errors.append(str(e))
                self._say(f"REVERT FAILED: {e}")

    async def _window(self, when: str) -> Judgement:
        assert self.hypothesis is not None
        steady = self.hypothesis.steady
        results = []
        for i in range(steady.window):
            results += await self.hypothesis.round()
            if i + 1 < steady.window:
                await self.clock.sleep(steady.interval)
        seen = judge(results, steady)
        self._say(f"steady state {when}: {'holds' if seen.holds else 'BROKEN'} ({seen.reason})")
        return seen
