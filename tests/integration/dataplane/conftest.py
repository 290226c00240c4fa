"""Two real backends on 127.0.0.1 (revisions v1 and v2) and a router in front of them, in the test's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import httpx
import pytest

from livesite.dataplane.router import HealthCheck, Router, RouterSettings, Timeouts, parse_backends
from livesite.testing import TargetServer

StartRouter = Callable[..., Awaitable[Router]]


@pytest.fixture
async def stable() -> AsyncIterator[TargetServer]:
    async with TargetServer(version="v1") as server:
        yield server


@pytest.fixture
async def canary() -> AsyncIterator[TargetServer]:
    async with TargetServer(version="v2") as server:
        yield server


@pytest.fixture
async def start_router(stable: TargetServer, canary: TargetServer) -> AsyncIterator[StartRouter]:
    """``await start_router(stable=90, canary=10, **settings)``: a router over both, stopped at the end."""
    async with AsyncExitStack() as stack:

        async def start(stable_weight: int = 90, canary_weight: int = 10, **overrides: object) -> Router:
            backends = parse_backends(
                [
                    f"http://127.0.0.1:{stable.port}={stable_weight}",
                    f"http://127.0.0.1:{canary.port}={canary_weight}",
                ],
                ["stable", "canary"],
            )
            fields: dict[str, object] = {
                "port": 0,
                "backends": backends,
                "health": HealthCheck(path="/status/200", interval_seconds=0.1, fall=1),
                "timeouts": Timeouts(
                    request_seconds=2.0, idle_seconds=5.0, connect_seconds=1.0, upstream_seconds=5.0
                ),
            }
            fields.update(overrides)
            clock = fields.pop("clock", None)
            router = Router(RouterSettings.model_validate(fields), clock=clock)  # type: ignore[arg-type]
            await stack.enter_async_context(router)
            return router

        yield start


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client
