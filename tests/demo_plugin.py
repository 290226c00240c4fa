"""Pytest plugin: the demo production as fixtures (real processes on 127.0.0.1, no mocks).

Enable with `pytest_plugins = ["demo_plugin"]` in tests/conftest.py.

    demo        session-scoped DemoState (default options) shared by read-mostly tests;
                tests that change it (partner mode, weights) put it back in a `finally`
    fresh_demo  function-scoped factory: `state = await fresh_demo(defects=["slow:300"])`; every demo it
                started is stopped at teardown

Teardown asserts that no process of the demo is left. The async API runs on its own thread with its own
event loop (`run_sync`), so these fixtures work the same for sync and async tests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from livesite.demo import Component, DemoOptions, DemoState, down, read_state, up
from livesite.demo.procs import is_running

T = TypeVar("T")


def run_sync(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh thread and loop (safe inside or outside a running loop)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


async def eventually(
    check: Callable[[], Awaitable[T | None]], timeout_seconds: float = 10.0, every_seconds: float = 0.05
) -> T:
    """Poll `check` until it returns something other than None/False; fail after `timeout_seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    while True:
        value = await check()
        if value is not None and value is not False:
            return value
        if loop.time() > deadline:
            pytest.fail(f"condition not met within {timeout_seconds} s: {check.__name__}")
        await asyncio.sleep(every_seconds)


def stop_and_check(state_dir: Path, seen: list[Component]) -> None:
    """`down` the demo in `state_dir`, then fail if any process it ever had is still alive."""
    current = read_state(state_dir)
    run_sync(down(state_dir))
    everything = [*seen, *(current.components if current else [])]
    left = [f"{c.name} (pid {c.pid})" for c in everything if is_running(c)]
    assert not left, f"demo processes survived `down`: {', '.join(left)}"
    assert read_state(state_dir) is None, "`down` left the state file behind"


class DemoFactory:
    """Starts demos with option overrides, each in its own state directory; remembers them for teardown."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.counter = itertools.count(1)
        self.started: dict[Path, list[Component]] = {}

    def options(self, **overrides: Any) -> DemoOptions:
        values: dict[str, Any] = {"state_dir": self.base_dir / f"demo-{next(self.counter)}"}
        values.update(overrides)
        return DemoOptions(**values)

    async def __call__(self, **overrides: Any) -> DemoState:
        return await self.start(self.options(**overrides))

    async def start(self, options: DemoOptions) -> DemoState:
        self.started.setdefault(options.state_dir, [])
        state = await up(options)
        self.started[options.state_dir].extend(state.components)
        return state

    def stop_all(self) -> None:
        for state_dir, seen in self.started.items():
            stop_and_check(state_dir, seen)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoState]:
    """The demo production with default options, shared by the whole session."""
    state_dir = tmp_path_factory.mktemp("livesite-demo")
    state = run_sync(up(DemoOptions(state_dir=state_dir)))
    try:
        yield state
    finally:
        stop_and_check(state_dir, state.components)


@pytest.fixture
def fresh_demo(tmp_path: Path) -> Iterator[DemoFactory]:
    """A factory of private demos: `await fresh_demo(defects=[...], token_ttl_seconds=1)`."""
    factory = DemoFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()
