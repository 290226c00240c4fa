"""The end-to-end scenario behind ``livesite demo`` (and ``make demo``).

It starts the demo production, checks it once, then monitors it while things go wrong on purpose —
the partner goes down, a slow revision reaches zone-a — and shows that livesite sees each one and sees
it recover. It sits above the pillars: the one place that drives the demo and the monitor together.
Act 3 is a rollout: a canary of a bad revision, rolled back by itself, then a good one, promoted.
Act 4 is a chaos experiment: a shop instance killed while the steady state is probed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Protocol

from livesite import demo
from livesite.chaos.hypothesis import Hypothesis
from livesite.chaos.leases import FaultBook
from livesite.chaos.runner import Journal, Runner
from livesite.chaos.spec import ExperimentFile
from livesite.clock import SystemClock
from livesite.config import Config, load, loads_document
from livesite.config.models import StoreSettings
from livesite.demo import control
from livesite.demo.state import STATE_FILE
from livesite.demo.traffic import shop as go_shopping
from livesite.monitor import Monitor, plan, run_once
from livesite.results import Result
from livesite.rollout.analyzer import RolloutAnalyzer
from livesite.rollout.controller import Controller
from livesite.rollout.spec import RolloutFile, router_of
from livesite.states import CheckState, StateChange
from livesite.store import Store, open_store
from livesite.store.base import Uptime
from livesite.store.leases import open_leases
from livesite.store.rollouts import RolloutStore, rollouts_of
from livesite.users import UserPool, provision
from livesite.web.serve import serve


class Reporter(Protocol):
    """How the scenario shows progress; the CLI renders it with rich."""

    def step(self, text: str) -> None: ...
    def started(self, state: demo.DemoState) -> None: ...
    def results(self, title: str, results: list[Result]) -> None: ...
    def change(self, change: StateChange) -> None: ...
    def note(self, text: str) -> None: ...
    def summary(self, summary: Summary) -> None: ...


@dataclass(frozen=True)
class RolloutOutcome:
    """One canary of the scenario: which revision, how it ended, how long to that decision, and why."""

    revision: str
    phase: str
    seconds: float
    reason: str


@dataclass
class Summary:
    demo_state: demo.DemoState
    first_round: list[Result]
    changes: list[StateChange]
    caught: dict[str, bool]  # act → did the monitor see it and see it recover
    uptime: dict[tuple[str, str], Uptime]
    runs: int  # runs that finished with a Result (every one is stored)
    store_url: str
    monitor_url: str
    kept: bool
    seconds: float
    final_states: dict[tuple[str, str], CheckState] = field(default_factory=dict)
    rollouts: list[RolloutOutcome] = field(default_factory=list)
    chaos: Journal | None = None

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.first_round) and all(self.caught.values())


_ROLLOUT = """
rollouts:
  - name: {name}
    router: {{type: builtin, url: "{url}", token: "{token}"}}
    backends: {{stable: shop-a1, canary: shop-a2}}
    strategy:
      canary:
        steps: [{{set_weight: 20}}, {{pause: 3s}}, {{set_weight: 50}}, {{pause: 3s}}, {{set_weight: 100}}]
    analysis:
      interval: 1s
      window: 30s
      metrics: [{{name: errors, source: router, measure: errors}}]
"""


async def _canary(
    state: demo.DemoState, rollouts: RolloutStore, revision: str, defects: list[str]
) -> RolloutOutcome:
    """Deploy ``revision`` to shop-a2 and roll it out on zone-a's front under steady shopping traffic."""
    state = await control.deploy(state, "shop-a2", revision=revision, defects=defects)
    await control.set_weights(state, "zone-a", {"shop-a1": 100, "shop-a2": 0})
    text = _ROLLOUT.format(name=f"shop-{revision}", url=state.front_url("zone-a"), token=state.admin_token)
    spec = loads_document(text, RolloutFile).rollouts[0]
    router = router_of(spec.router)
    clock = SystemClock()
    controller = Controller(spec, router, rollouts, RolloutAnalyzer(spec, router, clock), clock=clock)
    t0 = time.monotonic()
    record = await controller.run()
    seconds = time.monotonic() - t0
    if record.phase == "promoted":  # shop-a2 runs the new revision; shop-a1 catches up
        state = await control.deploy(state, "shop-a1", revision=revision, defects=defects)
    await control.set_weights(state, "zone-a", {"shop-a1": 50, "shop-a2": 50})
    return RolloutOutcome(revision, record.phase, seconds, record.reason)


_EXPERIMENT = """
experiments:
  - name: shop-a1-dies
    config: checks.yaml
    steady_state:
      checks: [health]  # reaches the front (the edge caches the catalog); the revision moved in act 3
      zones: [zone-a]
      interval: 1s
      window: 3
      tolerance: {{pass_rate: 0.9}}
    method:
      - fault: {{type: process, action: kill, signal: SIGKILL, select: {{demo: "{state_file}", component: shop-a1}}}}
        duration: 5s
"""


async def _chaos(state: demo.DemoState, config: Config, store: Store) -> Journal:
    """Kill one shop instance of zone-a while zone-a is probed: the front's failover must hold."""
    experiment = loads_document(
        _EXPERIMENT.format(state_file=state.state_dir / STATE_FILE), ExperimentFile
    ).experiments[0]
    assert experiment.steady_state is not None
    hypothesis = Hypothesis(config, experiment.steady_state)
    try:
        return await Runner(experiment, FaultBook(await open_leases(store)), hypothesis).run()
    finally:
        hypothesis.close()


def checks_file() -> Path:
    return Path(str(resources.files("livesite.demo") / "checks.yaml"))


def journeys_file() -> Path:
    return Path(str(resources.files("livesite.demo") / "journeys.yaml"))


async def _journeys(state: demo.DemoState, work: Path) -> dict[tuple[str, str, str], Result]:
    """The checkout journey once per cohort and zone, each as a leased fake user: (check, zone, cohort)."""
    where = {
        "LIVESITE_STORE": f"sqlite:///{work / 'users.db'}",
        "LIVESITE_USERS_FILE": str(work / "users.json"),
    }
    config = load(journeys_file(), env={**os.environ, **state.env(), **where})
    pool = await UserPool.open(config)
    try:
        await provision(config, pool)
    finally:
        await pool.close()
    results = await run_once(config, plan(config, spread_start=False))
    return {(r.check, r.zone, r.cohort): r for r in results}


class _Watch:
    """The monitor's latest state per (check, zone), and a way to wait for a condition on it."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], CheckState] = {}
        self.changes: list[StateChange] = []
        self._changed = asyncio.Event()

    def on_change(self, change: StateChange) -> None:
        self.states[(change.check, change.zone)] = change.current
        self.changes.append(change)
        self._changed.set()

    async def until(
        self, condition: Callable[[dict[tuple[str, str], CheckState]], bool], timeout: float
    ) -> bool:
        """Wait until ``condition`` holds on the states (woken by each change), or the timeout passes."""
        try:
            async with asyncio.timeout(timeout):
                while not condition(self.states):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True


def _scenario_config(state: demo.DemoState, work: Path) -> Config:
    env = {**os.environ, **state.env()}
    config = load(checks_file(), env=env)
    # Faster than production defaults so the story fits in a minute.
    defaults = config.defaults.model_copy(
        update={"interval": 1.0, "failure_threshold": 2, "success_threshold": 2}
    )
    store = StoreSettings(url=f"sqlite:///{work / 'results.db'}")
    monitor = config.monitor.model_copy(update={"listen": "127.0.0.1:0"})
    return config.model_copy(update={"defaults": defaults, "store": store, "monitor": monitor})


async def _uptime(config: Config, monitor: Monitor) -> dict[tuple[str, str], Uptime]:
    reader = await open_store(config.store.url)
    try:
        since = datetime.now(tz=UTC) - timedelta(hours=1)
        return {
            (job.check.name, job.zone): await reader.uptime(job.check.name, job.zone, since)
            for job in monitor.plan.jobs
        }
    finally:
        await reader.close()


def _all(check: str, state: CheckState) -> Callable[[dict[tuple[str, str], CheckState]], bool]:
    return lambda states: (
        any(k[0] == check for k in states) and all(v is state for k, v in states.items() if k[0] == check)
    )


def _any(check: str, zone: str, state: CheckState) -> Callable[[dict[tuple[str, str], CheckState]], bool]:
    return lambda states: states.get((check, zone)) is state


async def run(
    state_dir: Path,
    reporter: Reporter,
    *,
    keep: bool = False,
    keep_watching: Callable[[], Awaitable[None]] | None = None,
    customers_per_second: float = 2.0,
) -> Summary:
    """Run the whole story. The demo is stopped at the end unless ``keep``; it is always stopped on error.

    With ``keep`` and ``keep_watching``, the monitor (and its status page) keeps running after the
    summary until ``keep_watching()`` returns (the CLI waits for Ctrl-C); the demo outlives it.

    Raises:
        DemoError: the demo production could not start.
    """
    t0 = time.monotonic()
    reporter.step("Starting the demo production (two zones, edge caches, fronts, a partner)")
    state = await demo.up(demo.DemoOptions(state_dir=state_dir, customers_per_second=customers_per_second))
    try:
        reporter.started(state)
        config = _scenario_config(state, state_dir)

        reporter.step(f"Checking it once from both zones ({checks_file().name})")
        first = await run_once(config, plan(config, spread_start=False))
        reporter.results("first round", first)

        reporter.step("Fake users of two cohorts (free-eu, pro-us) check out in both zones (journeys.yaml)")
        before = await _journeys(state, state_dir)
        reporter.results("journeys, healthy", list(before.values()))
        reporter.step("...and again after zone-a's shops are redeployed with checkout-errors:1.0")
        for instance in state.shops("zone-a"):
            state = await control.deploy(state, instance.name, defects=["checkout-errors:1.0"])
        broken = await _journeys(state, state_dir)
        reporter.results("journeys, checkout broken in zone-a", list(broken.values()))
        for instance in state.shops("zone-a"):
            state = await control.deploy(state, instance.name, defects=[])
        journeys_caught = all(r.passed for r in before.values()) and all(
            (not r.passed and r.failure is not None and r.failure.step == "checkout") == (zone == "zone-a")
            for (_, zone, _), r in broken.items()
        )

        reporter.step("Monitoring it continuously while things go wrong on purpose")
        watch = _Watch()
        stop = asyncio.Event()
        ready: asyncio.Future[tuple[Monitor, str]] = asyncio.get_running_loop().create_future()

        def on_change(change: StateChange) -> None:
            watch.on_change(change)
            reporter.change(change)

        store = await open_store(config.store.url)
        monitoring = asyncio.create_task(
            serve(
                config,
                plan(config),
                store,
                stop,
                on_change=on_change,
                on_ready=lambda m, url: ready.set_result((m, url)),
            )
        )
        caught: dict[str, bool] = {
            "a journey per cohort caught zone-a's broken checkout, naming the step": journeys_caught
        }
        try:
            monitor, url = await asyncio.wait_for(asyncio.shield(ready), timeout=30)
            reporter.note(f"status page and /metrics at {url}")
            await watch.until(lambda s: len(s) == len(monitor.plan.jobs), timeout=20)

            reporter.step("Act 1: the partner's payments API goes down")
            await control.set_partner_mode(state, "down")
            down = await watch.until(_all("partner-health", CheckState.down), timeout=20)
            reporter.step("...and comes back")
            await control.set_partner_mode(state, "ok")
            back = await watch.until(_all("partner-health", CheckState.up), timeout=20)
            caught["partner outage seen and recovery seen"] = down and back

            reporter.step("Act 2: zone-a's shops are redeployed with a slow setting (+600 ms)")
            for shop in state.shops("zone-a"):
                state = await control.deploy(state, shop.name, defects=["slow:600"])
            slow = await watch.until(_any("revision", "zone-a", CheckState.degraded), timeout=30)
            reporter.step("...and the setting is rolled back")
            for shop in state.shops("zone-a"):
                state = await control.deploy(state, shop.name, defects=[])
            fixed = await watch.until(_any("revision", "zone-a", CheckState.up), timeout=30)
            caught["slow zone seen as degraded, and its recovery seen"] = slow and fixed

            rollouts = rollouts_of(store)
            assert rollouts is not None
            shopping = asyncio.Event()
            traffic = asyncio.create_task(go_shopping(state.front_url("zone-a"), shopping, shoppers=6))
            try:
                reporter.step(
                    "Act 3: a canary of v2, whose checkout fails 30% of the time, on zone-a's front"
                )
                bad = await _canary(state, rollouts, "v2", ["checkout-errors:0.3"])
                reporter.note(f"v2: {bad.phase} after {bad.seconds:.0f}s ({bad.reason})")
                reporter.step("...then a canary of v3, a good revision")
                good = await _canary(state, rollouts, "v3", [])
                reporter.note(f"v3: {good.phase} after {good.seconds:.0f}s")
            finally:
                shopping.set()
                await traffic
            rolled_out = [bad, good]
            caught["bad canary rolled back by itself"] = bad.phase == "rolled-back"
            caught["good canary promoted"] = good.phase == "promoted"

            reporter.step("Act 4: chaos — shop-a1 is killed (SIGKILL) while zone-a is probed every second")
            chaos = await _chaos(state, config, store)
            reporter.note(
                f"experiment {chaos.status}, steady state {'broke' if chaos.deviated else 'held'}"
                + (f" ({chaos.reason})" if chaos.reason else "")
            )
            state = await control.restart(state, "shop-a1")
            caught["a shop instance killed, zone-a held (the front failed over)"] = (
                chaos.status == "completed" and not chaos.deviated
            )

            async def summarize() -> Summary:
                return Summary(
                    demo_state=state,
                    first_round=first,
                    changes=list(watch.changes),
                    caught=caught,
                    uptime=await _uptime(config, monitor),
                    runs=sum(monitor.totals.values()),  # finished runs, each one stored
                    store_url=config.store.url,
                    monitor_url=url,
                    kept=keep,
                    seconds=time.monotonic() - t0,
                    final_states=dict(watch.states),
                    rollouts=rolled_out,
                    chaos=chaos,
                )

            if keep and keep_watching is not None:
                summary = await summarize()
                reporter.summary(summary)
                await keep_watching()
                return summary
        finally:
            stop.set()
            monitor = await monitoring
        summary = await summarize()  # after the monitor stopped: every run is in the store
        reporter.summary(summary)
        return summary
    finally:
        if not keep:
            with contextlib.suppress(demo.DemoError):
                await demo.down(state_dir)
