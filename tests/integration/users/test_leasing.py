"""Leasing holds across processes: a user held by another process is not handed out, a run waiting
for one fails after ``wait_seconds`` with the reason, and a crashed holder's lease expires."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from livesite.config import load
from livesite.users import NoFreeUser, UserPool

CHILD = Path(__file__).with_name("lease_child.py")
SRC = Path(__file__).resolve().parents[3] / "src"


def _config(tmp_path: Path, *, lease: str = "1m", wait: str = "300ms") -> Path:
    path = tmp_path / "users.yaml"
    path.write_text(
        f"""
store: {{url: "sqlite:///{tmp_path / "store.db"}"}}
users:
  lease_seconds: {lease}
  wait_seconds: {wait}
  cohorts:
    - name: staff
      users:
        - {{id: qa-1, username: qa1@example.test, password: not-used-here}}
"""
    )
    return path


def _holder(config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held qa-1"
    return child


async def test_a_user_held_by_another_process_is_not_handed_out_until_released(tmp_path: Path) -> None:
    path = _config(tmp_path)
    child = _holder(path)
    pool = await UserPool.open(load(path))
    try:
        with pytest.raises(
            NoFreeUser, match=re.escape("no free user in cohort 'staff': all 1 held by other runs for 0.3s")
        ):
            await pool.lease(cohort="staff")
        held = await pool.leases.active("user", now=pool.clock.time())
        assert [(lease.resource, lease.holder.endswith(":child")) for lease in held] == [("qa-1", True)]
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write("done\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "released"
        leased = await pool.lease(cohort="staff")
        assert leased.identity.user == "qa-1"
        assert leased.identity.headers == (("X-Livesite-Synthetic", "qa-1"),)
        await pool.release(leased)
    finally:
        child.kill()
        child.communicate()  # waits, and closes the pipes
        await pool.close()


async def test_the_lease_of_a_holder_that_crashed_expires(tmp_path: Path) -> None:
    path = _config(tmp_path, lease="1s", wait="10s")
    child = _holder(path)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    pool = await UserPool.open(load(path))
    try:
        left = await pool.leases.active("user", now=pool.clock.time())
        assert [lease.resource for lease in left] == ["qa-1"], "the crashed holder never released it"
        leased = await pool.lease(cohort="staff")  # waits (bounded) until the dead lease expires
        assert leased.identity.user == "qa-1"
        assert pool.clock.time() >= left[0].expires_at
        await pool.release(leased)
    finally:
        await pool.close()


async def test_a_lease_is_renewed_while_its_run_lasts(tmp_path: Path) -> None:
    import asyncio

    path = _config(tmp_path, lease="300ms", wait="50ms")
    holder, other = await UserPool.open(load(path)), await UserPool.open(load(path))
    try:
        async with holder.running(cohort="staff", check="long journey") as who:
            assert who.user == "qa-1"
            for _ in range(4):  # well past the 300 ms deadline, which renewals keep pushing back
                await asyncio.sleep(0.25)
                with pytest.raises(NoFreeUser):
                    await other.lease(cohort="staff")
        leased = await other.lease(cohort="staff")  # released at the end of the block
        await other.release(leased)
    finally:
        await holder.close()
        await other.close()


async def test_the_pool_leases_through_a_postgresql_store_too(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(
        f"""
store: {{url: "{fresh_postgres_url}"}}
users:
  wait_seconds: 100ms
  cohorts:
    - name: staff
      users: [{{id: qa-1, username: qa1@example.test, password: not-used-here}}]
"""
    )
    first, second = await UserPool.open(load(path)), await UserPool.open(load(path))
    try:
        async with first.running(cohort="staff", check="pg") as who:
            assert who.user == "qa-1"
            with pytest.raises(NoFreeUser, match="no free user in cohort 'staff'"):
                await second.lease(cohort="staff")
        leased = await second.lease(cohort="staff")
        await second.release(leased)
    finally:
        await first.close()
        await second.close()
