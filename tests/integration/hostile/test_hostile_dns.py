"""Names whose resolver never answers: they cost their own checks a timeout, and nothing else.

In this process, checks are pointed at a silent name server through their resources' resolver. As real
processes, ``livesite check`` and ``livesite monitor`` use the system resolver (getaddrinfo) inside a
private mount namespace whose /etc/resolv.conf names a silent server on port 53 and whose /etc/hosts
names the canary (``livesite.testing.dns.with_resolv_conf``; needs root and unshare, as CI has).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_kit import (
    SIGTERM_SECONDS,
    Monitor,
    assert_on_schedule,
    canary,
    poll,
    wait_for_canary,
    write_config,
)
from hostile_kit import monitor as monitor  # the fixture

from cli_runner import LIVESITE
from livesite import loads
from livesite.checks import Resources, RunContext, run_check
from livesite.results import FailureKind, Result, Status
from livesite.testing.dns import SilentNameServer, resolv_conf_unavailable, with_resolv_conf
from livesite.testing.target import TargetServer

pytestmark = pytest.mark.integration

DEAD_NAMES = [f"dead-{i}.hostile.test" for i in range(6)]
CANARY_NAME = "canary.hostile.test"  # in the private /etc/hosts: answered by getaddrinfo, on a thread


@pytest.fixture(scope="module")
def target() -> Iterator[TargetServer]:
    with TargetServer().in_thread() as server:
        yield server


@pytest.fixture
def silent_port_53() -> Iterator[SilentNameServer]:
    """A silent name server on port 53 of a loopback address of its own (resolv.conf knows no ports)."""
    reason = resolv_conf_unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} — CI must allow it", pytrace=False)
        pytest.skip(reason)
    for attempt in range(20):
        host = f"127.53.{(os.getpid() >> 8) & 255}.{(os.getpid() + attempt) % 254 + 1}"
        try:
            with SilentNameServer(host, 53) as server:
                yield server
                return
        except OSError:
            continue
    pytest.fail("no loopback address with a free port 53")


def dead_checks(port: int, timeout: str = "3s") -> list[dict[str, Any]]:
    return [
        {"name": f"dead-{i}", "kind": "http", "url": f"http://{name}:{port}/json", "timeout": timeout}
        for i, name in enumerate(DEAD_NAMES)
    ]


def isolated(directory: Path, silent: SilentNameServer) -> Callable[[list[str]], list[str]]:
    def wrap(argv: list[str]) -> list[str]:
        return with_resolv_conf(argv, silent.host, directory, hosts={CANARY_NAME: "127.0.0.1"})

    return wrap


# ------------------------------------------------------------------------------------------------ in process


async def test_a_localhost_check_stays_on_time_while_six_checks_hang_on_a_dead_resolver(
    target: TargetServer,
) -> None:
    doc = {
        "zones": [{"name": "local"}],
        "checks": [
            *dead_checks(target.port),
            {
                "name": "canary",
                "kind": "http",
                "url": f"http://localhost:{target.port}/json",
                "timeout": "1s",
            },
        ],
    }
    config = loads(json.dumps(doc))
    *dead, canary_spec = config.checks
    with SilentNameServer() as silent:
        resources = Resources(resolver=silent.resolver(timeout_seconds=60))
        ctx = RunContext(zone=config.zone("local"), defaults=config.defaults, resources=resources)
        hanging = [asyncio.create_task(run_check(spec, ctx)) for spec in dead]
        canaries: list[Result] = []
        for _ in range(5):
            canaries.append(await run_check(canary_spec, ctx))
        assert not any(task.done() for task in hanging)  # the dead ones are still waiting
        t0 = time.perf_counter()
        dead_results = await asyncio.gather(*hanging)
    assert all(r.status is Status.ok for r in canaries), [r.reason() for r in canaries]
    assert all(r.duration_seconds < 1 for r in canaries)
    for result in dead_results:
        assert result.failure is not None and result.failure.kind is FailureKind.timeout
        assert result.failure.message == "no answer within 3s (stopped during resolve)"
        assert result.duration_seconds <= 3 + 0.5
    assert time.perf_counter() - t0 <= 3 + 0.5


# ------------------------------------------------------------------------------------------------ processes


def test_livesite_check_on_dead_names_ends_at_its_deadline_with_the_canary_ok(
    target: TargetServer, silent_port_53: SilentNameServer, tmp_path: Path
) -> None:
    checks = [
        *dead_checks(target.port, timeout="2s"),
        canary("canary-hosts", f"http://{CANARY_NAME}:{target.port}/json?canary=canary-hosts"),
        canary("canary-localhost", f"http://localhost:{target.port}/json?canary=canary-localhost"),
    ]
    argv = isolated(tmp_path, silent_port_53)(
        [*LIVESITE, "check", str(write_config(tmp_path, checks)), "--json"]
    )
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - t0
    assert done.returncode == 1, done.stderr
    results = {r["check"]: r for r in json.loads(done.stdout)}
    assert results["canary-hosts"]["status"] == "ok", results["canary-hosts"]["failure"]
    assert results["canary-localhost"]["status"] == "ok", results["canary-localhost"]["failure"]
    for i in range(6):
        assert results[f"dead-{i}"]["failure"]["message"] == "no answer within 2s (stopped during resolve)"
    # Start-up, 2 s of waiting, and an exit no blocked lookup thread may delay (glibc waits 30 s here).
    assert seconds < 2 + 5, f"took {seconds:.1f} s"
    assert silent_port_53.queries() >= 6


def test_the_monitor_keeps_canaries_on_schedule_while_six_names_hang_and_stops_on_sigterm(
    target: TargetServer,
    silent_port_53: SilentNameServer,
    monitor: Callable[..., Monitor],
    tmp_path: Path,
) -> None:
    checks = [
        canary("canary-hosts", f"http://{CANARY_NAME}:{target.port}/json?canary=canary-hosts"),
        canary("canary-localhost", f"http://localhost:{target.port}/json?canary=canary-localhost"),
        *dead_checks(target.port),
    ]
    m = monitor(checks, wrap=isolated(tmp_path, silent_port_53))
    poll(m.ready, 30, "the monitor serving /metrics")
    assert_on_schedule(wait_for_canary(target, "canary-hosts", m))
    assert_on_schedule(wait_for_canary(target, "canary-localhost", m))
    assert silent_port_53.queries() >= 6  # the dead names really were asked, and never answered
    seconds = m.sigterm()
    assert m.proc.returncode == 0, m.log.read_text()
    assert seconds <= SIGTERM_SECONDS, f"exited {seconds:.2f} s after SIGTERM"
