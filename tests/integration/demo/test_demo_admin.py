"""The demo's admin endpoints answer only to the admin token made at `demo up`.

Without it they change nothing: no partner outage, no new weights, no purge, no new price through the
public edge. `livesite.demo.control` carries the token from the state file, so the levers still work.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from demo_plugin import DemoFactory, stop_and_check
from livesite.cli.demo import app
from livesite.demo import DemoState, control, read_state
from livesite.demo.state import state_path

pytestmark = pytest.mark.integration
runner = CliRunner()


@dataclass(frozen=True)
class Admin:
    """One admin endpoint: where it lives, and a request that would change (or read) something."""

    name: str
    base: Callable[[DemoState], str]
    method: str
    path: str
    body: object | None = None


ENDPOINTS = [
    Admin("partner mode", lambda s: s.partner_url, "PUT", "/-/mode", {"mode": "down"}),
    Admin("partner mode read", lambda s: s.partner_url, "GET", "/-/mode"),
    Admin("partner referrals", lambda s: s.partner_url, "GET", "/-/referrals"),
    Admin(
        "front weights", lambda s: s.front_url("zone-a"), "PUT", "/-/weights", {"shop-a1": 100, "shop-a2": 0}
    ),
    Admin("front weights read", lambda s: s.front_url("zone-a"), "GET", "/-/weights"),
    Admin("front stats", lambda s: s.front_url("zone-a"), "GET", "/-/stats"),
    Admin("front stats reset", lambda s: s.front_url("zone-a"), "DELETE", "/-/stats"),
    Admin("edge purge", lambda s: s.zone_url("zone-b"), "POST", "/-/purge", {"paths": []}),
    Admin("edge cache", lambda s: s.zone_url("zone-b"), "GET", "/-/cache"),
    Admin(
        "price via the public edge",
        lambda s: s.zone_url("zone-a"),
        "PUT",
        "/api/admin/products/2",
        {"price_cents": 1},
    ),
    Admin(
        "purge via the public edge", lambda s: s.zone_url("zone-a"), "POST", "/api/admin/purge", {"paths": []}
    ),
]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
async def test_an_admin_endpoint_refuses_a_request_without_the_token_or_with_a_wrong_one(
    demo: DemoState, endpoint: Admin
) -> None:
    url = endpoint.base(demo) + endpoint.path
    async with httpx.AsyncClient(timeout=10) as client:
        before = await client.get(f"{demo.zone_url('zone-a')}/api/products/2")
        anonymous = await client.request(endpoint.method, url, json=endpoint.body)
        wrong = await client.request(
            endpoint.method, url, json=endpoint.body, headers={"Authorization": "Bearer not-the-token-at-all"}
        )
        after = await client.get(f"{demo.zone_url('zone-a')}/api/products/2")
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json()["status"] == 401 and "admin token" in anonymous.json()["error"]
    assert "LIVESITE_DEMO_ADMIN_TOKEN" in anonymous.json()["hint"]
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 403 and wrong.json()["error"] == "wrong admin token"
    # Nothing changed: the partner still answers, the weights and the price are what they were.
    assert before.json()["price_cents"] == after.json()["price_cents"]
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(f"{demo.partner_url}/health")).status_code == 200
    assert await control.get_weights(demo, "zone-a") == {"shop-a1": 50, "shop-a2": 50}


# The levers that change things are pulled through livesite.demo.control by the other demo tests.
@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.method == "GET"], ids=lambda e: e.name)
async def test_an_admin_endpoint_answers_the_token_of_this_demo(demo: DemoState, endpoint: Admin) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        reply = await client.get(
            endpoint.base(demo) + endpoint.path, headers={"Authorization": f"Bearer {demo.admin_token}"}
        )
    assert reply.status_code == 200, reply.text


async def test_each_demo_gets_its_own_token_kept_in_a_state_file_only_its_owner_reads(
    demo: DemoState, fresh_demo: DemoFactory
) -> None:
    other = await fresh_demo(instances_per_zone=1)
    assert len(demo.admin_token) >= 24 and other.admin_token != demo.admin_token
    for state in (demo, other):
        mode = stat.S_IMODE(os.stat(state_path(state.state_dir)).st_mode)
        assert mode == 0o600, oct(mode)
        for component in state.components:
            assert stat.S_IMODE(os.stat(component.config_path).st_mode) == 0o600
    async with httpx.AsyncClient() as client:  # one demo's token opens nothing of another
        crossed = await client.get(
            f"{other.partner_url}/-/mode", headers={"Authorization": f"Bearer {demo.admin_token}"}
        )
    assert crossed.status_code == 403
    await control.set_partner_mode(other, "slow", delay_ms=1)  # control uses the right one


def test_demo_env_prints_the_admin_token(demo: DemoState) -> None:
    shown = runner.invoke(app, ["env", "--state-dir", str(demo.state_dir)])
    assert shown.exit_code == 0, shown.output
    assert f"export LIVESITE_DEMO_ADMIN_TOKEN={demo.admin_token}" in shown.output


def test_up_with_a_state_dir_names_it_in_every_follow_up_command_and_keeps_the_token_out_of_json(
    tmp_path: Path,
) -> None:
    where = tmp_path / "my demo"
    try:
        table = runner.invoke(app, ["up", "--instances", "1", "--state-dir", str(where)])
        assert table.exit_code == 0, table.output
        flat = " ".join(table.output.split())
        assert f"eval \"$(livesite demo env --state-dir '{where}')\"" in flat
        assert f"livesite demo down --state-dir '{where}'" in flat
        token = read_state(where).admin_token  # type: ignore[union-attr]
        assert token not in table.output
        runner.invoke(app, ["down", "--state-dir", str(where)])
        as_json = runner.invoke(app, ["up", "--json", "--instances", "1", "--state-dir", str(where)])
        assert as_json.exit_code == 0, as_json.output
        assert "admin_token" not in as_json.output
        assert read_state(where).admin_token not in as_json.output  # type: ignore[union-attr]
    finally:
        stop_and_check(where, [])


def test_a_stale_zone_the_demo_does_not_have_is_a_usage_error_naming_the_zones(tmp_path: Path) -> None:
    result = runner.invoke(app, ["up", "--defect", "stale-zone:zone-c", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "stale-zone:zone-c" in result.output
    assert "zone-a, zone-b" in result.output and "checkout-errors" in result.output
    assert not state_path(tmp_path).exists()


def test_a_defect_that_looks_like_markup_is_reported_as_written(tmp_path: Path) -> None:
    result = runner.invoke(app, ["up", "--defect", "[/]", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "unknown defect '[/]'" in result.output
