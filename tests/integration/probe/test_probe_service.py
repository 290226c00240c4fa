"""The probe service is the one way a pillar runs checks: a client outside monitor/ schedules, hears
and removes its own jobs while the service runs, and runs a check once as a given user."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from livesite.checks import Identity
from livesite.config import loads
from livesite.probe import Job, ProbeService, job_for
from livesite.results import Result, Status
from livesite.testing.target import TargetServer


def config_for(target: TargetServer) -> str:
    return f"""
zones: [{{name: local, base_url: "{target.url("/").rstrip("/")}"}}]
defaults: {{interval: 100ms, timeout: 2s}}
checks:
  - {{name: steady, url: /status/200}}
  - {{name: canary, url: /status/200, headers: {{X-Probe: canary}}}}
"""


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_client_schedules_hears_and_removes_its_own_jobs_while_the_service_runs(
    target: TargetServer,
) -> None:
    config = loads(config_for(target))
    steady, canary = config.checks
    service = ProbeService(config)
    heard: dict[str, list[Result]] = {"steady": [], "canary": []}

    def on_result(job: Job, result: Result) -> None:
        heard[job.check.name].append(result)

    everything: list[Result] = []
    service.subscribe(lambda _job, result: everything.append(result))
    service.schedule(job_for(config, steady, "local", spread_start=False), on_result)
    running = asyncio.create_task(service.run())
    try:
        await wait_until(lambda: len(heard["steady"]) >= 2)
        # A job added while the service runs starts on its own schedule.
        service.schedule(job_for(config, canary, "local", spread_start=False), on_result)
        await wait_until(lambda: len(heard["canary"]) >= 2)
        # A job removed while the service runs stops; the other goes on.
        service.unschedule(job_for(config, steady, "local").key)
        removed_at = len(heard["steady"])
        canary_at = len(heard["canary"])
        await wait_until(lambda: len(heard["canary"]) >= canary_at + 3)
        assert len(heard["steady"]) <= removed_at + 1  # at most the run already in flight
    finally:
        service.stop()
        await asyncio.wait_for(running, timeout=5)
        service.close()
    assert all(r.status is Status.ok for r in everything)
    assert len(everything) == len(heard["steady"]) + len(heard["canary"])
    assert any(r.headers.get("x-probe") == "canary" for r in target.received)


async def test_run_until_returns_on_time_and_waits_for_runs_in_flight(target: TargetServer) -> None:
    config = loads(config_for(target))
    service = ProbeService(config)
    results: list[Result] = []
    service.schedule(
        job_for(config, config.checks[0], "local", spread_start=False), lambda _j, r: results.append(r)
    )
    until = service.clock.monotonic() + 0.5
    await asyncio.wait_for(service.run(until=until), timeout=5)
    service.close()
    assert service.clock.monotonic() >= until
    assert 3 <= len(results) <= 7  # every 100 ms for half a second, none cut off half-way


async def test_a_check_runs_once_as_a_given_user_and_the_result_says_who(target: TargetServer) -> None:
    config = loads(config_for(target))
    service = ProbeService(config)
    alice = Identity(user="alice", cohort="pro-eu", headers=(("X-User", "alice"),), route="canary")
    try:
        result = await service.probe(config.checks[0], "local", alice)
    finally:
        service.close()
    assert (result.user, result.cohort, result.status) == ("alice", "pro-eu", Status.ok)
    request = target.received[-1]
    assert request.headers["x-user"] == "alice"
    assert request.headers["x-livesite-route"] == "canary"
