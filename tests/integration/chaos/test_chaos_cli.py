"""`livesite chaos run|halt|recover` as users run them: a real process, real faults, real signals."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from cli_runner import livesite, start_livesite
from livesite.chaos.leases import FaultBook
from livesite.store import open_store
from livesite.store.leases import open_leases
from livesite.testing.target import TargetServer


def _wait(probe: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not probe():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.05)


def _stopped(pid: int) -> bool:
    return psutil.Process(pid).status() == psutil.STATUS_STOPPED


def _pause_experiment(tmp_path: Path, tag: str, seconds: str = "60s") -> Path:
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        "experiments:\n  - name: freeze\n    method:\n"
        f'      - {{fault: {{type: process, action: pause, select: {{pattern: "{tag}"}}}}, duration: {seconds}}}\n'
    )
    return exp


def test_dry_run_shows_the_resolved_targets_and_touches_nothing(victims, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tag, (victim,) = victims(1)
    exp = _pause_experiment(tmp_path, tag)
    done = livesite("chaos", "run", str(exp), "--dry-run", "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert done.returncode == 0, done.stderr
    assert f"pid {victim.pid}" in done.stdout and "1 of 1 candidates" in done.stdout
    assert not _stopped(victim.pid)


async def test_halt_reverts_every_fault_within_a_second(victims, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tag, (victim,) = victims(1)
    store = f"sqlite:///{tmp_path / 's.db'}"
    journal = tmp_path / "j.json"
    runner = start_livesite(
        "chaos", "run", str(_pause_experiment(tmp_path, tag)), "--store", store, "--journal", str(journal),
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.to_thread(_wait, lambda: _stopped(victim.pid))
        opened = await open_store(store)
        try:
            book = FaultBook(await open_leases(opened))
            t0 = time.monotonic()
            reverted, errors = await book.halt()  # what `livesite chaos halt` and the API call
            took = time.monotonic() - t0
        finally:
            await opened.close()
        assert not errors and len(reverted) == 1
        assert not _stopped(victim.pid) and took < 1.0, f"halt took {took:.2f}s"
        assert await asyncio.to_thread(runner.wait, 15) == 1
        record = json.loads(journal.read_text())
        assert record["status"] == "halted" and record["faults"][0]["reverted_at"]
        again = await asyncio.to_thread(livesite, "chaos", "halt", "--store", store)
        assert again.returncode == 0 and "halted: 0 fault(s) reverted" in again.stdout
    finally:
        runner.kill()
        runner.wait(5)


def test_sigterm_reverts_and_sigkill_leaves_it_to_recover(victims, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tag, (victim,) = victims(1)
    store = f"sqlite:///{tmp_path / 's.db'}"
    exp = _pause_experiment(tmp_path, tag)
    runner = start_livesite(
        "chaos",
        "run",
        str(exp),
        "--store",
        store,
        "--journal",
        str(tmp_path / "j.json"),
        stdout=subprocess.DEVNULL,
    )
    _wait(lambda: _stopped(victim.pid))
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(15) == 130
    assert not _stopped(victim.pid), "SIGTERM: the runner reverted before exiting"

    runner = start_livesite(
        "chaos", "run", str(exp), "--store", store, "--journal", str(tmp_path / "j2.json")
    )
    _wait(lambda: _stopped(victim.pid))
    runner.kill()  # SIGKILL: nothing of the runner runs any more
    runner.wait(15)
    assert _stopped(victim.pid)
    recovered = livesite("chaos", "recover", "--store", store)
    assert recovered.returncode == 0 and "recovered: 1 fault" in recovered.stdout, recovered.stdout
    assert not _stopped(victim.pid)


async def test_the_method_aborts_when_the_steady_state_breaks(fault_proxy: str, tmp_path: Path) -> None:
    async with TargetServer() as target, httpx.AsyncClient() as api:
        made = await api.post(
            f"{fault_proxy}/proxies", json={"name": "shop", "upstream": f"127.0.0.1:{target.port}"}
        )
        listen = made.json()["listen"]
        (tmp_path / "checks.yaml").write_text(
            f"""
zones: [{{name: local, base_url: "http://{listen}"}}]
store: {{url: "sqlite:///{tmp_path / "s.db"}"}}
checks: [{{name: shop, url: /status/200, timeout: 500ms}}]
"""
        )
        (tmp_path / "exp.yaml").write_text(
            f"""
experiments:
  - name: shop-down
    config: checks.yaml
    steady_state: {{checks: [shop], interval: 200ms, window: 3, tolerance: {{pass_rate: 1.0}}}}
    method:
      - {{fault: {{type: proxy, api: "{fault_proxy}", proxy: shop, toxic: {{type: timeout, attributes: {{timeout: 0}}}}}}, duration: 30s}}
"""
        )
        t0 = time.monotonic()
        done = await asyncio.to_thread(
            livesite,
            "chaos",
            "run",
            str(tmp_path / "exp.yaml"),
            "--journal",
            str(tmp_path / "j.json"),
            timeout=60,
        )
        took = time.monotonic() - t0
        assert done.returncode == 1, done.stdout + done.stderr
        journal = json.loads((tmp_path / "j.json").read_text())
        assert journal["status"] == "aborted" and journal["deviated"] is True
        assert journal["before"]["holds"] is True
        assert took < 30, "aborted long before the fault's duration"
        toxics = (await api.get(f"{fault_proxy}/proxies/shop/toxics")).json()
        assert toxics == [], "the toxic was reverted"
        assert (await api.get(f"http://{listen}/status/200")).status_code == 200
