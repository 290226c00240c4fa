"""The rollout controller: a persisted state machine that moves traffic, judges it and decides.

Phases: pending → progressing ⇄ paused → promoting → promoted, or → rolled-back / frozen / aborted.
The record is written before and after every action on the router, and every decision is journaled
with the Verdicts behind it. A controller that starts on a record it did not finish re-reads the
router first: if the router runs other weights than the record says, it holds (paused, with the
reason) and waits for a human — it never promotes by accident, and never leaves traffic
half-applied without saying so.

Commands arrive through the store (``livesite rollout promote|abort|pause|resume NAME``):
``abort`` sends all traffic to stable in one step, skipping the remaining steps; ``promote`` skips
the remaining steps to promotion; ``pause`` holds where it is; ``resume`` continues (and re-applies
the recorded weight after a hold).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from livesite.analysis import Outcome
from livesite.clock import Clock, SystemClock
from livesite.rollout.analyzer import Analyzer
from livesite.rollout.routers import Route, Router, RouterError
from livesite.rollout.spec import AnalysisStep, Pause, Pin, RolloutSpec, SetWeight, Unpin
from livesite.rollout.spec import Phase as HookPhase
from livesite.rollout.spec import Route as RouteSpec
from livesite.rollout.webhooks import Webhooks
from livesite.store.rollouts import (
    Command,
    Decision,
    MetricVerdict,
    Phase,
    RolloutRecord,
    RolloutStore,
    owner_name,
    worst,
)

log = logging.getLogger(__name__)
ROUTER_RETRY_SECONDS = 30.0  # how long abort and rollback keep trying a router that does not answer


class _Abort(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Promote(Exception):
    pass


class _Failed(Exception):
    def __init__(self, reason: str, verdicts: Sequence[MetricVerdict] = ()) -> None:
        self.reason = reason
        self.verdicts = list(verdicts)


class _Hold(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class Controller:
    def __init__(
        self,
        spec: RolloutSpec,
        router: Router,
        store: RolloutStore,
        analyzer: Analyzer,
        *,
        clock: Clock | None = None,
        webhooks: Webhooks | None = None,
        tick: float = 0.2,
        on_decision: Callable[[Decision], None] | None = None,
    ) -> None:
        self.spec = spec
        self.router = router
        self.store = store
        self.analyzer = analyzer
        self.clock = clock or SystemClock()
        self.webhooks = webhooks or Webhooks(spec)
        self.tick = tick
        self.on_decision = on_decision
        self.record = RolloutRecord(name=spec.name, started_at=self._now(), updated_at=self._now())
        self._last_analysis = 0.0

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), tz=UTC)

    # -- persistence ------------------------------------------------------------------------------------
    async def _save(self, **changes: object) -> None:
        for key, value in changes.items():
            setattr(self.record, key, value)
        self.record.updated_at = self._now()
        self.record.heartbeat_at = self.record.updated_at
        self.record.owner = owner_name()
        await self.store.save(self.record)

    async def _decide(
        self,
        action: str,
        reason: str = "",
        verdicts: Sequence[MetricVerdict] = (),
        outcome: Outcome | None = None,
    ) -> None:
        decision = Decision(
            rollout=self.spec.name,
            at=self._now(),
            phase=self.record.phase,
            step=self.record.step,
            action=action,
            reason=reason,
            weights=self._weights(self.record.weight),
            verdicts=list(verdicts),
            outcome=outcome,
        )
        await self.store.journal(decision)
        log.info("%s: %s %s", self.spec.name, action, reason)
        if self.on_decision is not None:
            self.on_decision(decision)
        await self.webhooks.tell("event", {"action": action, "reason": reason[:500]})

    def _weights(self, canary: int) -> dict[str, int]:
        backends = self.spec.backends
        return {backends.stable: 100 - canary, backends.canary: canary}

    # -- the run ----------------------------------------------------------------------------------------
    async def run(self, *, restart: bool = False) -> RolloutRecord:
        """Run (or resume) the rollout until it is promoted, rolled back, aborted or frozen."""
        found = await self.store.record(self.spec.name)
        resumed = found is not None and not restart and not found.done
        if found is not None and found.done and not restart:
            return found
        if resumed:
            assert found is not None
            self.record = found
            await self._decide("resumed", f"by {owner_name()} in phase {found.phase} at step {found.step}")
        else:
            self.record = RolloutRecord(name=self.spec.name, started_at=self._now(), updated_at=self._now())
            await self._save()
            await self._decide("started")
        hold: str | None = None
        while True:
            try:
                if hold is not None:
                    reason, hold = hold, None
                    await self._hold(reason)
                elif resumed:
                    resumed = False
                    await self._verify_recorded()
                await self._drive()
                return self.record
            except _Hold as e:
                hold = e.reason
            except _Promote:
                self.record.step = self._steps_total()
                await self._save(phase="progressing")
                await self._decide("promote asked", "remaining steps skipped")
            except _Abort as e:
                try:
                    await self._to_stable("aborted", e.reason)
                    return self.record
                except _Hold as again:
                    hold = again.reason
            except _Failed as e:
                try:
                    await self._failed(e)
                    return self.record
                except _Hold as again:
                    hold = again.reason

    async def _failed(self, failed: _Failed) -> None:
        if self.spec.on_failure == "freeze":
            await self._save(phase="frozen", reason=failed.reason)
            await self._decide("frozen", failed.reason, failed.verdicts, outcome="fail")
            return
        await self._decide("analysis failed", failed.reason, failed.verdicts, outcome="fail")
        await self._to_stable("rolled-back", failed.reason)
        await self.webhooks.tell("rollback", {"reason": failed.reason[:500]})

    async def _drive(self) -> None:
        if self.record.phase == "frozen":
            raise _Hold("frozen after a failed analysis: resume continues, abort returns traffic to stable")
        if self.record.phase == "pending":
            await self._gate("confirm-rollout")
            ok, why = await self.webhooks.ask("pre-rollout")
            if not ok:
                raise _Failed(why)
            await self._save(phase="progressing")
            await self.webhooks.tell("rollout")
        if self.record.phase == "paused":
            await self._save(phase="progressing")
        if self.record.phase == "progressing":
            if self.spec.strategy.canary is not None:
                await self._canary()
            else:
                await self._blue_green()
            await self._gate("confirm-promotion")
            await self._save(phase="promoting")
        if self.record.phase == "promoting":
            await self._apply(100)
            await self._routes([])
            await self._save(phase="promoted", reason="")
            await self._decide("promoted", outcome="pass")
            await self.webhooks.tell("post-rollout")

    def _steps_total(self) -> int:
        canary = self.spec.strategy.canary
        return len(canary.steps) if canary is not None else 4

    async def _canary(self) -> None:
        assert self.spec.strategy.canary is not None
        steps = self.spec.strategy.canary.steps
        while self.record.step < len(steps):
            step = steps[self.record.step]
            if isinstance(step, SetWeight):
                await self._apply(step.set_weight)
            elif isinstance(step, Pin):
                await self._routes([step.pin])
            elif isinstance(step, Unpin):
                await self._routes([])
            elif isinstance(step, Pause):
                if step.pause == "until-promoted":
                    await self._until_promoted()
                else:
                    await self._wait(float(step.pause))
                    if self._traffic():  # the next step moves more traffic: not on no evidence
                        await self._analysis(self.spec.analysis.window)
            elif isinstance(step, AnalysisStep):
                await self._wait(step.analysis.window)
                await self._analysis(step.analysis.window)
            await self._save(step=self.record.step + 1)

    async def _blue_green(self) -> None:
        plan = self.spec.strategy.blue_green
        assert plan is not None
        while self.record.step < 4:
            if self.record.step == 0:  # checks reach green through the preview route
                await self._routes([plan.preview])
            elif self.record.step == 1:
                await self._wait(plan.preview_window)
                await self._analysis(plan.preview_window)
            elif self.record.step == 2:
                if not plan.auto_promote:
                    await self._until_promoted()
                await self._apply(100)  # the switch, in one step
                await self._routes([])
            else:  # blue stays warm: a failure in this window switches back
                await self._wait(plan.switch_back_window)
                if plan.switch_back_window > 0:
                    await self._analysis(min(plan.switch_back_window, self.spec.analysis.window))
            await self._save(step=self.record.step + 1)

    # -- actions on the router --------------------------------------------------------------------------
    async def _apply(self, canary: int) -> None:
        weights = self._weights(canary)
        await self._save(reason=f"applying weights {weights}")
        try:
            await self.router.set_weights(weights)
            state = await self.router.verify()
        except RouterError as e:
            raise _Hold(f"the router did not apply {weights}: {e}") from None
        seen = {k: state.weights.get(k) for k in weights}
        if seen != weights:
            raise _Hold(f"the router runs {seen} after being asked for {weights}")
        await self._save(weight=canary, reason="")
        await self._decide(f"set weight {canary}")

    async def _routes(self, routes: Sequence[RouteSpec]) -> None:
        wanted = [
            Route(
                header=r.header,
                cookie=r.cookie,
                value=r.value,
                backend=r.backend or self.spec.backends.canary,
            )
            for r in routes
        ]
        if not wanted and not self.record.pinned:
            return
        try:
            await self.router.set_routes(wanted)
            await self.router.verify()
        except RouterError as e:
            raise _Hold(f"the router did not apply the routes: {e}") from None
        await self._save(pinned=bool(wanted))
        await self._decide(
            "pinned " + ", ".join(f"{r.source[1]}={r.value}" for r in wanted) if wanted else "unpinned"
        )

    async def _verify_recorded(self) -> None:
        """After a restart: does the router still run what the record says?"""
        try:
            state = await self.router.verify()
        except RouterError as e:
            raise _Hold(f"cannot read the router back after a restart: {e}") from None
        expected = self._weights(self.record.weight)
        seen = {k: state.weights.get(k) for k in expected}
        if seen != expected:
            raise _Hold(
                f"after a restart the router runs {seen} but the record says {expected}: "
                "resume re-applies the recorded weights, abort sends all traffic to stable"
            )

    async def _to_stable(self, phase: Phase, reason: str) -> None:
        """All traffic to stable in one step (abort, rollback); a router that does not answer is retried."""
        deadline = self.clock.monotonic() + ROUTER_RETRY_SECONDS
        weights = self._weights(0)
        while True:
            try:
                await self.router.set_weights(weights)
                if self.record.pinned:  # a router without routes (the demo's fronts) is never asked
                    await self.router.set_routes([])
                state = await self.router.verify()
                if {k: state.weights.get(k) for k in weights} == weights:
                    break
                problem = f"the router runs {state.weights}"
            except RouterError as e:
                problem = str(e)
            if self.clock.monotonic() >= deadline:
                await self._save(phase="paused", reason=f"{phase} asked, but {problem}; traffic NOT moved")
                await self._decide(f"{phase} failed", problem)
                raise _Hold(f"could not send traffic to stable: {problem}")
            await self.clock.sleep(1.0)
        await self._save(phase=phase, weight=0, pinned=False, reason=reason)
        await self._decide(phase, reason)

    # -- waiting ----------------------------------------------------------------------------------------
    async def _gate(self, phase: HookPhase) -> None:
        """Wait until every ``phase`` webhook says yes (asked again every analysis interval)."""
        while True:
            ok, why = await self.webhooks.ask(phase)
            if ok:
                return
            await self._save(reason=f"waiting: {why}")
            await self._wait(self.spec.analysis.interval, analyze=False)

    async def _until_promoted(self) -> None:
        await self._save(phase="paused", reason="waiting for promote (or resume)")
        await self._decide("paused", "until promoted")
        with contextlib.suppress(_Resume):
            await self._wait(None)
        await self._save(phase="progressing", reason="")

    async def _hold(self, reason: str) -> None:
        await self._save(phase="paused", reason=reason)
        await self._decide("held", reason)
        with contextlib.suppress(_Resume):
            await self._wait(None, analyze=False)
        await self._save(phase="progressing", reason="")
        await self._decide("resumed")
        await self._apply(self.record.weight)

    async def _wait(self, seconds: float | None, *, analyze: bool = True) -> None:
        """Wait ``seconds`` (None: until resumed), taking commands and judging every interval."""
        end = None if seconds is None else self.clock.monotonic() + seconds
        paused_by_hand = False
        while end is None or self.clock.monotonic() < end or paused_by_hand:
            for command in await self.store.take(self.spec.name):
                paused_by_hand = await self._command(command, paused_by_hand, waiting=seconds is None)
            due = self.clock.monotonic() - self._last_analysis >= self.spec.analysis.interval
            if analyze and due and self._traffic() and not paused_by_hand:
                await self._interim()
            await self._save()
            await self.clock.sleep(self.tick)

    def _traffic(self) -> bool:
        return self.record.weight > 0 or self.record.pinned

    async def _command(self, command: Command, paused: bool, *, waiting: bool) -> bool:
        await self._decide(f"command {command.command}", f"from {command.by}")
        if command.command == "abort":
            raise _Abort(f"aborted by {command.by}")
        if command.command == "promote":
            raise _Promote
        if command.command == "pause":
            await self._save(phase="paused", reason=f"paused by {command.by}")
            return True
        if waiting:
            raise _Resume
        await self._save(phase="progressing", reason="")
        return False

    async def _interim(self) -> None:
        """A look while traffic moves: it may fail the rollout early, never pass it."""
        self._last_analysis = self.clock.monotonic()
        verdicts = await self.analyzer.analyze(self.spec.analysis.window, interim=True)
        failing = [v for v in verdicts if v.verdict.outcome == "fail"]
        if not failing:
            return
        self.record.failures += 1
        await self._save()
        reason = "; ".join(f"{v.metric}: {v.verdict.reason}" for v in failing)
        if self.record.failures > self.spec.analysis.failure_limit:
            raise _Failed(reason, verdicts)
        await self._decide("analysis failed", reason, verdicts, "fail")

    async def _analysis(self, window: float) -> None:
        """A decision point: the fixed-sample judges over the last ``window``; no data is never a pass.

        Too little data yet (inconclusive) is judged again every interval, for up to
        ``inconclusive_limit`` windows; then ``no_data`` says whether to hold or to fail."""
        limits = self.spec.analysis
        deadline = self.clock.monotonic() + window * max(1, limits.inconclusive_limit)
        waiting = False
        while True:
            self._last_analysis = self.clock.monotonic()
            verdicts = await self.analyzer.analyze(window)
            outcome = worst([v.verdict.outcome for v in verdicts])
            if outcome == "fail":
                failing = [v for v in verdicts if v.verdict.outcome == "fail"]
                raise _Failed("; ".join(f"{v.metric}: {v.verdict.reason}" for v in failing), verdicts)
            if outcome == "pass":
                await self._save(inconclusive=0)
                await self._decide("analysis passed", "", verdicts, outcome)
                return
            why = "; ".join(
                f"{v.metric}: {v.verdict.reason}" for v in verdicts if v.verdict.outcome != "pass"
            )
            why = why or "no metrics to judge"
            if self.clock.monotonic() >= deadline:
                await self._save(inconclusive=self.record.inconclusive + 1)
                if limits.no_data == "fail":
                    raise _Failed(f"no conclusive data: {why}", verdicts)
                raise _Hold(f"no conclusive data ({why}): resume to go on, abort to stop")
            if not waiting:
                waiting = True
                await self._decide(
                    "analysis inconclusive", f"{why}; waiting for more data", verdicts, outcome
                )
            await self._wait(limits.interval)


class _Resume(Exception):
    pass


def heartbeat_fresh(record: RolloutRecord, now: datetime, seconds: float = 5.0) -> bool:
    """Whether a controller is alive for this record (saved within ``seconds``)."""
    return record.heartbeat_at is not None and now - record.heartbeat_at < timedelta(seconds=seconds)


async def wait_done(store: RolloutStore, name: str, clock: Clock, timeout: float) -> RolloutRecord | None:
    """Poll the record until the rollout is done or ``timeout`` passes (for `abort --wait`)."""
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        found = await store.record(name)
        if found is not None and (found.done or found.phase == "frozen"):
            return found
        await clock.sleep(0.2)
    return await store.record(name)


__all__ = ["Controller", "heartbeat_fresh", "wait_done"]
