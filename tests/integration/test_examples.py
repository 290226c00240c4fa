"""The shipped examples run against the demo production, pass when it is healthy and catch its defects."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from demo_plugin import DemoFactory
from livesite.config import load
from livesite.demo import DemoState, control
from livesite.monitor import plan, run_once
from livesite.results import Result, Status

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def run_example(name: str, state: DemoState, **env: str) -> dict[tuple[str, str], Result]:
    config = load(EXAMPLES / name, env={**os.environ, **state.env(), **env})
    results = await run_once(config, plan(config))
    return {(r.check, r.zone): r for r in results}


@pytest.mark.parametrize("name", ["demo-checks.yaml", "split", "links.yaml", "browser.yaml"])
async def test_every_example_passes_against_a_healthy_demo(name: str, demo: DemoState) -> None:
    results = await run_example(name, demo)
    assert results
    failing = {key: r.reason() for key, r in results.items() if r.status is not Status.ok}
    assert not failing


async def test_the_examples_catch_a_slow_zone_as_degraded_not_failed(fresh_demo: DemoFactory) -> None:
    state = await fresh_demo()
    for shop in state.shops("zone-a"):
        state = await control.deploy(state, shop.name, defects=["slow:400"])
    results = await run_example("demo-checks.yaml", state)
    assert results[("revision", "zone-a")].status is Status.degraded
    assert "expected latency < 300ms" in results[("revision", "zone-a")].reason()
    assert results[("revision", "zone-b")].status is Status.ok


async def test_the_examples_catch_a_zone_serving_a_stale_revision(fresh_demo: DemoFactory) -> None:
    state = await fresh_demo(revision="v2", defects=["stale-zone:zone-b"])
    results = await run_example("demo-checks.yaml", state, LIVESITE_EXPECTED_REVISION="v2")
    assert results[("revision", "zone-a")].status is Status.ok
    stale = results[("revision", "zone-b")]
    assert stale.status is Status.failed
    assert stale.revision == "v1"
    assert "expected json.revision == v2, observed v1" in stale.reason()


async def test_the_examples_catch_a_missing_anchor(fresh_demo: DemoFactory) -> None:
    state = await fresh_demo(defects=["missing-anchor"])
    results = await run_example("demo-checks.yaml", state)
    broken = results[("product-page-anchors", "zone-a")]
    assert broken.status is Status.failed
    assert [a.expr for a in broken.assertions if not a.passed] == ['body contains "id=\\"reviews\\""']


async def test_the_examples_catch_the_partner_being_down_and_tag_it(fresh_demo: DemoFactory) -> None:
    state = await fresh_demo()
    await control.set_partner_mode(state, "down")
    results = await run_example("demo-checks.yaml", state)
    for check in ("partner-health", "partner-widget"):
        result = results[(check, "zone-a")]
        assert result.status is Status.failed
        assert result.tags == {"partner": "payments"}
        assert result.http.status_code == 503
    assert results[("health", "zone-a")].status is Status.ok


def test_the_probe_service_example_runs_a_check_as_a_user_against_the_demo(demo: DemoState) -> None:
    import subprocess
    import sys

    script = EXAMPLES / "probe_as_a_user.py"
    config = EXAMPLES / "demo-checks.yaml"
    done = subprocess.run(
        [sys.executable, str(script), str(config), "health", "zone-a", "--seconds", "1.5"],
        env={**os.environ, **demo.env()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "once: health@zone-a as alice (pro-eu): ok" in done.stdout
    assert "runs passed" in done.stdout


async def test_the_links_example_finds_the_broken_link_and_the_missing_anchors(
    fresh_demo: DemoFactory,
) -> None:
    state = await fresh_demo(defects=["broken-link", "missing-anchor"])
    results = await run_example("links.yaml", state)
    for zone in ("zone-a", "zone-b"):
        result = results[("links", zone)]
        assert result.status is Status.failed
        broken = {(b.link.split("/", 3)[3], b.reason) for b in result.observation.broken}  # type: ignore[union-attr]
        assert ("sale", "HTTP 404") in broken
        assert ("products/1#reviews", "no element with id or name 'reviews' on the page") in broken


async def test_the_links_example_reports_referral_links_when_the_partner_is_down(
    fresh_demo: DemoFactory,
) -> None:
    state = await fresh_demo()
    await control.set_partner_mode(state, "down")
    result = (await run_example("links.yaml", state))[("links", "zone-a")]
    assert result.status is Status.failed
    broken = result.observation.broken  # type: ignore[union-attr]
    referrals = [b for b in broken if "ref=livesite-shop" in b.link]
    assert referrals and all(b.reason == "HTTP 503" for b in referrals)
    assert any(b.link.endswith("/widget.js") for b in broken)


async def test_the_cross_zone_examples_pass_against_a_healthy_demo(fresh_demo: DemoFactory) -> None:
    import uuid

    import httpx

    state = await fresh_demo(token_ttl_seconds=1)
    email, password = f"fake-{uuid.uuid4().hex[:8]}@example.test", "correct horse battery"
    async with httpx.AsyncClient() as client:
        registered = await client.post(
            f"{state.zone_url('zone-a')}/api/register", json={"email": email, "password": password}
        )
        assert registered.status_code == 201
    user = {"DEMO_EMAIL": email, "DEMO_PASSWORD": password}
    for name in ("cache.yaml", "consistency.yaml", "token.yaml"):
        results = await run_example(name, state, **user)
        assert {zone for _, zone in results} == {"zone-a"}, "a cross-zone check runs once"
        failing = {key: r.reason() for key, r in results.items() if r.status is not Status.ok}
        assert not failing, name


@pytest.mark.parametrize("name", ["users.yaml", "journey.yaml"])
async def test_the_fake_user_examples_pass_once_their_users_are_provisioned(
    name: str, demo: DemoState, tmp_path: Path
) -> None:
    from livesite.users import UserPool, provision

    where = {
        "LIVESITE_STORE": f"sqlite:///{tmp_path / 'store.db'}",
        "LIVESITE_USERS_FILE": str(tmp_path / "u.json"),
    }
    config = load(EXAMPLES / name, env={**os.environ, **demo.env(), **where})
    pool = await UserPool.open(config)
    try:
        assert {o.action for o in await provision(config, pool)} == {"registered"}
    finally:
        await pool.close()
    results = await run_once(config, plan(config))  # one Result per check, zone and cohort
    assert {(r.zone, r.cohort) for r in results} == {
        (z, c) for z in ("zone-a", "zone-b") for c in ("free-eu", "pro-us")
    }
    assert all(r.status is Status.ok for r in results), [r.reason() for r in results]
