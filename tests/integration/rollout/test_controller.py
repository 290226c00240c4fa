"""The rollout controller's decisions, on a real SQLite store, against a router whose data plane is
this test's own (it can refuse, lie or change behind the controller's back on cue) and an analyzer
that answers what each test scripts. The real routers drive real traffic in test_rollout_demo.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import pytest

from livesite.analysis import judge
from livesite.config import loads_document
from livesite.rollout.analyzer import inconclusive
from livesite.rollout.controller import Controller
from livesite.rollout.routers import BackendStats, Route, RouterError, RouterState
from livesite.rollout.spec import RolloutFile, RolloutSpec
from livesite.store import open_store
from livesite.store.rollouts import Command, MetricVerdict, RolloutStore, rollouts_of
from livesite.testing.target import TargetServer


class PlaneRouter:
    """A data plane in memory: what it runs, whether it applies what it is told."""

    name = "plane"

    def __init__(self) -> None:
        self.weights = {"stable": 100, "canary": 0}
        self.routes: list[Route] = []
        self.refuse = False
        self.ignore = False
        self.history: list[dict[str, int]] = []

    async def set_weights(self, weights: Mapping[str, int]) -> None:
        if self.refuse:
            raise RouterError("unreachable", "connection refused", router=self.name)
        if not self.ignore:
            self.weights.update(weights)
            self.history.append(dict(self.weights))

    async def set_routes(self, routes: Sequence[Route]) -> None:
        if self.refuse:
            raise RouterError("unreachable", "connection refused", router=self.name)
        self.routes = list(routes)

    async def verify(self) -> RouterState:
        if self.refuse:
            raise RouterError("unreachable", "connection refused", router=self.name)
        return RouterState(weights=dict(self.weights), routes=list(self.routes), generation="g")

    async def stats(self) -> dict[str, BackendStats]:
        return {}


class ScriptedAnalyzer:
    def __init__(self, outcome: str = "pass") -> None:
        self.outcome = outcome
        self.calls = 0

    async def analyze(self, window_seconds: float, *, interim: bool = False) -> list[MetricVerdict]:
        self.calls += 1
        if self.outcome == "inconclusive":
            return [MetricVerdict(metric="errors", verdict=inconclusive("no samples yet"))]
        canary = [(0, 100)] * 20 if self.outcome == "pass" else [(30, 100)] * 20
        verdict = judge([(0, 100)] * 20, canary, "counts", "increase")
        return [MetricVerdict(metric="errors", verdict=verdict)]


def _spec(steps: str, extra: str = "") -> RolloutSpec:
    text = f"""
rollouts:
  - name: shop
    router: {{type: builtin, url: "http://127.0.0.1:9", token: t0k3n-value}}
    analysis: {{interval: 100ms, window: 1s, inconclusive_limit: 1}}
    strategy:
      canary:
        steps: {steps}
{extra}
"""
    found = loads_document(text, RolloutFile).get("shop")
    assert found is not None
    return found


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RolloutStore]:
    opened = await open_store(f"sqlite:///{tmp_path / 'r.db'}")
    found = rollouts_of(opened)
    assert found is not None
    yield found
    await opened.close()


async def _until(probe: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await probe():
        assert asyncio.get_running_loop().time() < deadline, "not within the deadline"
        await asyncio.sleep(0.02)


def _controller(
    spec: RolloutSpec, router: PlaneRouter, store: RolloutStore, analyzer: ScriptedAnalyzer
) -> Controller:
    return Controller(spec, router, store, analyzer, tick=0.02)


async def test_a_good_canary_walks_its_steps_and_is_promoted(store: RolloutStore) -> None:
    router, analyzer = PlaneRouter(), ScriptedAnalyzer("pass")
    spec = _spec("[{set_weight: 10}, {pause: 300ms}, {set_weight: 50}, {analysis: {window: 200ms}}]")
    record = await _controller(spec, router, store, analyzer).run()
    assert record.phase == "promoted"
    assert router.weights == {"stable": 0, "canary": 100}
    assert [h["canary"] for h in router.history] == [10, 50, 100]
    actions = [d.action for d in reversed(await store.decisions("shop"))]
    assert actions[0] == "started" and actions[-1] == "promoted"
    assert "analysis passed" in actions


async def test_a_failing_analysis_rolls_back_and_skips_the_remaining_steps(store: RolloutStore) -> None:
    router, analyzer = PlaneRouter(), ScriptedAnalyzer("fail")
    spec = _spec("[{set_weight: 10}, {pause: 5s}, {set_weight: 50}]")
    record = await asyncio.wait_for(_controller(spec, router, store, analyzer).run(), 5)
    assert record.phase == "rolled-back"
    assert router.weights == {"stable": 100, "canary": 0}
    assert 50 not in [h["canary"] for h in router.history]
    failed = next(d for d in await store.decisions("shop") if d.action == "analysis failed")
    assert failed.verdicts and failed.verdicts[0].verdict.outcome == "fail"
    assert "rate" in failed.verdicts[0].verdict.test or failed.reason


async def test_abort_sends_all_traffic_to_stable_in_one_step(store: RolloutStore) -> None:
    router, analyzer = PlaneRouter(), ScriptedAnalyzer("pass")
    spec = _spec("[{set_weight: 20}, {pause: until-promoted}, {set_weight: 60}]")
    run = asyncio.create_task(_controller(spec, router, store, analyzer).run())

    async def paused() -> bool:
        found = await store.record("shop")
        return found is not None and found.phase == "paused"

    await _until(paused)
    before = len(router.history)
    await store.send(Command(rollout="shop", command="abort"))
    record = await asyncio.wait_for(run, 5)
    assert record.phase == "aborted"
    assert router.history[before:] == [{"stable": 100, "canary": 0}], "one step, straight to stable"


async def test_a_router_that_does_not_apply_holds_the_rollout_and_never_promotes(store: RolloutStore) -> None:
    router, analyzer = PlaneRouter(), ScriptedAnalyzer("pass")
    router.ignore = True  # answers, but keeps running 100/0
    spec = _spec("[{set_weight: 10}, {set_weight: 100}]")
    run = asyncio.create_task(_controller(spec, router, store, analyzer).run())

    async def held() -> bool:
        found = await store.record("shop")
        return found is not None and found.phase == "paused" and "after being asked" in found.reason

    await _until(held)
    record = await store.record("shop")
    assert record is not None and record.weight == 0
    router.ignore = False
    await store.send(Command(rollout="shop", command="resume"))
    assert (await asyncio.wait_for(run, 5)).phase == "promoted"


async def test_a_restarted_controller_holds_when_the_router_changed_behind_its_back(
    store: RolloutStore,
) -> None:
    router, analyzer = PlaneRouter(), ScriptedAnalyzer("pass")
    spec = _spec("[{set_weight: 10}, {pause: 30s}, {set_weight: 100}]")
    first = asyncio.create_task(_controller(spec, router, store, analyzer).run())

    async def at_ten() -> bool:
        found = await store.record("shop")
        return found is not None and found.weight == 10 and found.step == 1

    await _until(at_ten)
    first.cancel()  # the controller dies mid-pause
    with pytest.raises(asyncio.CancelledError):
        await first
    router.weights = {"stable": 70, "canary": 30}  # someone moved traffic meanwhile
    second = asyncio.create_task(_controller(spec, router, store, analyzer).run())

    async def held() -> bool:
        found = await store.record("shop")
        return found is not None and found.phase == "paused" and "after a restart" in found.reason

    await _until(held)
    assert router.weights == {"stable": 70, "canary": 30}, "it acts on nothing it did not verify"
    await store.send(Command(rollout="shop", command="abort"))
    assert (await asyncio.wait_for(second, 5)).phase == "aborted"
    assert router.weights == {"stable": 100, "canary": 0}


async def test_no_data_is_never_a_pass(store: RolloutStore) -> None:
    router, analyzer = PlaneRouter(), ScriptedAnalyzer("inconclusive")
    spec = _spec("[{set_weight: 10}, {analysis: {window: 200ms}}, {set_weight: 100}]")
    run = asyncio.create_task(_controller(spec, router, store, analyzer).run())

    async def held() -> bool:
        found = await store.record("shop")
        return found is not None and found.phase == "paused" and "no conclusive data" in found.reason

    await _until(held)
    assert router.weights["canary"] == 10
    await store.send(Command(rollout="shop", command="abort"))
    assert (await asyncio.wait_for(run, 5)).phase == "aborted"


async def test_freeze_keeps_the_traffic_where_it_is(store: RolloutStore) -> None:
    router, analyzer = PlaneRouter(), ScriptedAnalyzer("fail")
    spec = _spec("[{set_weight: 30}, {pause: 2s}]", "    on_failure: freeze")
    record = await asyncio.wait_for(_controller(spec, router, store, analyzer).run(), 5)
    assert record.phase == "frozen" and router.weights == {"stable": 70, "canary": 30}


async def test_promotion_waits_for_its_webhook_gate(store: RolloutStore) -> None:
    async with TargetServer() as hook:
        hook.respond("/gate", 503, "not yet")
        spec = _spec(
            "[{set_weight: 50}]",
            f'    webhooks: [{{name: qa, phase: confirm-promotion, url: "{hook.url("/gate")}"}}]',
        )
        router = PlaneRouter()
        run = asyncio.create_task(_controller(spec, router, store, ScriptedAnalyzer("pass")).run())

        async def waiting() -> bool:
            found = await store.record("shop")
            return found is not None and "webhook qa (confirm-promotion) answered 503" in found.reason

        await _until(waiting)
        assert router.weights["canary"] == 50
        hook.respond("/gate", 200, "go")
        assert (await asyncio.wait_for(run, 5)).phase == "promoted"
        asked = [r for r in hook.received if r.path == "/gate"]
        assert asked and b'"phase":"confirm-promotion"' in asked[-1].body.replace(b" ", b"")


async def test_abort_with_no_controller_alive_moves_the_traffic_itself(store: RolloutStore) -> None:
    from datetime import timedelta

    from livesite.rollout import commands

    router, analyzer = PlaneRouter(), ScriptedAnalyzer("pass")
    spec = _spec("[{set_weight: 40}, {pause: 30s}]")
    run = asyncio.create_task(_controller(spec, router, store, analyzer).run())

    async def at_forty() -> bool:
        found = await store.record("shop")
        return found is not None and found.weight == 40

    await _until(at_forty)
    said = await commands.send(spec, store, "pause", router)
    assert said.startswith("pause sent to the controller")
    run.cancel()  # the controller dies; its heartbeat goes stale
    await asyncio.gather(run, return_exceptions=True)
    record = await store.record("shop")
    assert record is not None and record.heartbeat_at is not None
    record.heartbeat_at -= timedelta(minutes=1)
    await store.save(record)
    said = await commands.send(spec, store, "abort", router)
    assert said.startswith("no controller was running")
    assert router.weights == {"stable": 100, "canary": 0}
    after = await store.record("shop")
    assert after is not None and after.phase == "aborted"
    assert (await store.decisions("shop", 1))[0].action == "aborted"
