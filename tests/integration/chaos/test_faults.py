"""Faults injected and reverted for real: processes killed and paused, CPU burnt, toxics on our fault
proxy. Every fault is a lease first; the blast radius and other experiments' leases are respected."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from livesite.chaos.faults import FaultError
from livesite.chaos.leases import FAULT, FaultBook
from livesite.chaos.runner import BlastRadiusError, Runner
from livesite.chaos.spec import Experiment, ExperimentFile
from livesite.config import loads_document


def _experiment(method: str, extra: str = "") -> Experiment:
    text = f"experiments:\n  - name: exp\n    method: {method}\n{extra}"
    return loads_document(text, ExperimentFile).experiments[0]


async def _until(probe: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not probe():
        assert time.monotonic() < deadline, "not within the deadline"
        await asyncio.sleep(0.05)


async def test_kill_touches_only_the_selected_process(victims, book: FaultBook) -> None:  # type: ignore[no-untyped-def]
    tag, (victim,) = victims(1)
    _, (bystander,) = victims(1)
    exp = _experiment(
        f'[{{fault: {{type: process, action: kill, select: {{pattern: "{tag}"}}}}, duration: 200ms}}]'
    )
    journal = await Runner(exp, book).run()
    assert journal.status == "completed", journal.reason
    await _until(lambda: victim.poll() is not None)
    assert victim.returncode == -9
    assert bystander.poll() is None, "a process outside the selector is never touched"
    assert await book.held() == [], "the lease is released once reverted"


async def test_pause_is_reverted_with_sigcont(victims, book: FaultBook) -> None:  # type: ignore[no-untyped-def]
    tag, (victim,) = victims(1)
    exp = _experiment(
        f'[{{fault: {{type: process, action: pause, select: {{pattern: "{tag}"}}}}, duration: 1s}}]'
    )
    run = asyncio.create_task(Runner(exp, book).run())
    await _until(lambda: psutil.Process(victim.pid).status() == psutil.STATUS_STOPPED)
    held = await book.held()
    assert [h.lease.kind for h in held] == [FAULT] and held[0].target.data["pid"] == victim.pid
    journal = await run
    assert journal.faults[0].reverted_at is not None
    assert psutil.Process(victim.pid).status() != psutil.STATUS_STOPPED


async def test_the_blast_radius_refuses_before_anything_is_touched(victims, book: FaultBook) -> None:  # type: ignore[no-untyped-def]
    tag, procs = victims(3)
    exp = _experiment(
        f'[{{fault: {{type: process, count: 3, select: {{pattern: "{tag}"}}}}}}]',
        "    blast_radius: {max_targets: 2, max_percent: 100}\n",
    )
    journal = await Runner(exp, book).run()
    assert journal.status == "failed" and "blast radius allows 2" in journal.reason
    assert all(p.poll() is None for p in procs)
    with pytest.raises(BlastRadiusError):
        await Runner(exp, book).plan()


async def test_two_experiments_on_one_target_the_second_is_refused(victims, book: FaultBook) -> None:  # type: ignore[no-untyped-def]
    tag, (victim,) = victims(1)
    exp = _experiment(
        f'[{{fault: {{type: process, action: pause, select: {{pattern: "{tag}"}}}}, duration: 5s}}]'
    )
    first = Runner(exp, book, rng=random.Random(1))
    run = asyncio.create_task(first.run())
    await _until(lambda: psutil.Process(victim.pid).status() == psutil.STATUS_STOPPED)
    second = await Runner(exp, book).run()
    assert second.status == "failed" and "already under a fault" in second.reason
    first.interrupt.set()
    journal = await run
    assert journal.status == "interrupted" and journal.faults[0].reverted_at is not None
    assert psutil.Process(victim.pid).status() != psutil.STATUS_STOPPED


async def test_a_fault_whose_target_is_gone_fails_clearly(victims, book: FaultBook) -> None:  # type: ignore[no-untyped-def]
    tag, (victim,) = victims(1)
    exp = _experiment(f'[{{fault: {{type: process, select: {{pattern: "{tag}"}}}}}}]')
    runner = Runner(exp, book)
    plan = await runner.plan()
    victim.kill()
    victim.wait(5)
    with pytest.raises(FaultError, match="gone or no longer matches"):
        await book.apply("exp", exp.method[0].fault, plan[0].targets[0], 10)  # type: ignore[arg-type]
    assert await book.held() == [], "a failed injection leaves no lease"


async def test_a_cpu_burn_outlives_neither_its_revert_nor_its_ttl(book: FaultBook) -> None:
    exp = _experiment("[{fault: {type: stress, resource: cpu, cores: 0.2}, duration: 300ms}]")
    journal = await Runner(exp, book).run()
    assert journal.status == "completed" and journal.faults[0].reverted_at is not None
    token = journal.faults[0].target.resource

    def burners() -> list[psutil.Process]:
        return [
            p
            for p in psutil.process_iter(["cmdline"])
            if "livesite.chaos.faults.burn" in (p.info["cmdline"] or [])
        ]

    await _until(lambda: not burners())
    assert token.startswith("stress:cpu:")
    # The runner dies with the fault on: the burner ends by itself at the lease's TTL.
    exp = _experiment("[{fault: {type: stress, resource: cpu, cores: 0.2}, duration: 3s, ttl: 3s}]")
    run = asyncio.create_task(Runner(exp, book).run())
    await _until(lambda: bool(burners()))
    run.cancel()  # a cancelled runner still reverts; what a SIGKILL leaves is tested from the CLI
    with pytest.raises(asyncio.CancelledError):
        await run
    await _until(lambda: not burners(), seconds=10)


async def test_a_disk_fill_is_bounded_and_removed(book: FaultBook, tmp_path: Path) -> None:
    exp = _experiment(
        f'[{{fault: {{type: stress, resource: disk, megabytes: 5, directory: "{tmp_path}"}}, duration: 5s}}]'
    )
    run = asyncio.create_task(Runner(exp, book).run())
    await _until(lambda: any(p.stat().st_size >= 5 * 1024 * 1024 for p in tmp_path.glob("*.fill")))
    journal = await run
    assert journal.status == "completed"
    await _until(lambda: not list(tmp_path.glob("*.fill")))  # the revert removed it before 5 s


def test_bad_experiments_are_refused_with_their_line() -> None:
    from livesite.errors import ConfigErrors

    cases = {
        "method: [{fault: {type: process, select: {}}}]": "select names no process",
        "method: [{fault: {type: process, select: {pattern: '('}}}]": "not a regular expression",
        "method: [{fault: {type: stress, resource: disk}}]": "a disk fault fills a file",
        "method: [{fault: {type: proxy, proxy: p}}]": "adds a toxic or takes the proxy down",
        "method: [{fault: {type: process, select: {pattern: x}}, duration: 10s, ttl: 5s}]": "shorter than the duration",
        "method: []": "at least 1",
        "method: [{pause: 1s}]\n    steady_state: {checks: [a]}": "names checks of a config",
    }
    for body, message in cases.items():
        with pytest.raises(ConfigErrors) as e:
            loads_document(f"experiments:\n  - name: x\n    {body}\n", ExperimentFile, "e.yaml")
        assert message in str(e.value) and "e.yaml:" in str(e.value), (body, str(e.value))
    assert sys.platform.startswith("linux")
