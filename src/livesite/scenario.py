"""The end-to-end scenario behind ``livesite demo`` (and ``make demo``).

It starts the demo production, checks it once, then monitors it while things go wrong on purpose —
the partner goes down, a slow revision reaches zone-a — and shows that livesite sees each one and sees
it recover. It sits above the pillars: the one place that drives the demo and the monitor together.
Later pillars add their acts (a canary caught and rolled back, a chaos experiment survived).
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
from livesite.config import Config, load
from livesite.config.models import StoreSettings
from livesite.demo import control
from livesite.monitor import Monitor, plan, run_once
from livesite.results import Result
from livesite.states import CheckState, StateChange
from livesite.store import open_store
from livesite.store.base import Uptime
from livesite.web.serve import serve


class Reporter(Protocol):
    """How the scenario shows progress; the CLI renders it with rich."""

    def step(self, text: str) -> None: ...
    def started(self, state: demo.DemoState) -> None: ...
    def results(self, title: str, results: list[Result]) -> None: ...
    def change(self, change: StateChange) -> None: ...
    def note(self, text: str) -> None: ...
    def summary(self, summary: Summary) -> None: ...


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

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.first_round) and all(self.caught.values())


def checks_file() -> Path:
    return Path(str(resources.files("livesite.demo") / "checks.yaml"))


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
        caught: dict[str, bool] = {}
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
