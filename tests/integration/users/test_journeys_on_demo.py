"""Fake users and journeys against the real demo production: provision, run per cohort, catch a
seeded defect naming the step, and never let a password or token reach a Result or the store."""

from __future__ import annotations

import json
import os
from pathlib import Path

from demo_plugin import DemoFactory
from livesite.config import load
from livesite.config.models import Config
from livesite.demo import DemoState
from livesite.monitor import plan, run_once
from livesite.results import Result, Status
from livesite.users import UserPool, cleanup, provision, read_accounts

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _config(name: str, state: DemoState, tmp_path: Path) -> Config:
    env = {
        **os.environ,
        **state.env(),
        "LIVESITE_STORE": f"sqlite:///{tmp_path / 'livesite.db'}",
        "LIVESITE_USERS_FILE": str(tmp_path / "users.json"),
    }
    return load(EXAMPLES / name, env=env)


async def _provisioned(config: Config) -> None:
    pool = await UserPool.open(config)
    try:
        outcomes = await provision(config, pool)
    finally:
        await pool.close()
    assert [o.action for o in outcomes] == ["registered"] * 4, [o.reason for o in outcomes]


async def test_a_checkout_journey_per_cohort_passes_on_a_healthy_demo(
    demo: DemoState, tmp_path: Path
) -> None:
    config = _config("journey.yaml", demo, tmp_path)
    await _provisioned(config)
    results = await run_once(config, plan(config))
    by_key = {(r.check, r.zone, r.cohort): r for r in results}
    assert set(by_key) == {
        ("checkout", zone, cohort) for zone in ("zone-a", "zone-b") for cohort in ("free-eu", "pro-us")
    }
    for result in results:
        assert result.status is Status.ok, result.reason()
        assert result.user.startswith(result.cohort + "-"), "each Result says which user ran it"
        assert [s.name for s in result.steps] == ["login", "cart", "think", "checkout", "orders", "logout"]
        assert result.steps[1].revision and result.steps[1].phases is not None
        assert result.steps[4].target.startswith(demo.zone_url("zone-b")), "a step may run in another zone"
    _no_secrets(results, tmp_path)


async def test_the_journey_catches_checkout_errors_naming_the_step_and_still_cleans_up(
    fresh_demo: DemoFactory, tmp_path: Path
) -> None:
    state = await fresh_demo(defects=["checkout-errors:1.0"])
    config = _config("journey.yaml", state, tmp_path)
    await _provisioned(config)
    results = await run_once(config, plan(config, zones=["zone-a"]))
    assert len(results) == 2
    for result in results:
        assert result.status is Status.failed
        assert result.failure is not None and result.failure.step == "checkout"
        assert result.reason().startswith("assertion at step 'checkout': expected status == 201"), (
            result.reason()
        )
        assert "observed 500" in result.reason()
        steps = {s.name: s.status for s in result.steps}
        assert steps == {
            "login": Status.ok,
            "cart": Status.ok,
            "think": Status.ok,
            "checkout": Status.failed,
            "logout": Status.ok,
        }, "the steps after the failure do not run; cleanup does"
    _no_secrets(results, tmp_path)


async def test_users_are_provisioned_listed_and_cleaned_up(demo: DemoState, tmp_path: Path) -> None:
    config = _config("users.yaml", demo, tmp_path)
    await _provisioned(config)
    accounts_file = tmp_path / "users.json"
    assert accounts_file.stat().st_mode & 0o777 == 0o600
    results = await run_once(config, plan(config))
    assert {(r.check, r.cohort) for r in results} == {("whoami", "free-eu"), ("whoami", "pro-us")}
    assert all(r.status is Status.ok for r in results), [r.reason() for r in results]
    pool = await UserPool.open(config)
    try:
        removed = await cleanup(config, pool)
        assert sorted(o.action for o in removed) == ["removed"] * 4
        assert read_accounts(accounts_file) == {}
        after = await run_once(config, plan(config))
        assert all(r.status is Status.error for r in after)
        assert "has no provisioned users" in after[0].reason()
    finally:
        await pool.close()


def _no_secrets(results: list[Result], tmp_path: Path) -> None:
    accounts = read_accounts(tmp_path / "users.json")
    assert accounts
    passwords = [a.password for a in accounts.values()]
    text = "\n".join(r.model_dump_json() for r in results)
    for password in passwords:
        assert password not in text
    assert '"token"' not in text or "****" in text
    store = (tmp_path / "livesite.db").read_bytes()
    wal = tmp_path / "livesite.db-wal"
    store += wal.read_bytes() if wal.exists() else b""
    for password in passwords:
        assert password.encode() not in store
    assert json.loads((tmp_path / "users.json").read_text())["accounts"], (
        "the credentials live in the 0600 file"
    )
