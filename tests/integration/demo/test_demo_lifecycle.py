"""Starting and stopping: second up, stale state, kills from outside, deploys, tokens, customers, strangers."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from demo_plugin import DemoFactory, eventually, run_sync
from livesite.demo import DemoError, DemoRunning, DemoState, control, down, status, up
from livesite.demo.state import state_path

pytestmark = pytest.mark.integration


async def test_a_second_up_in_the_same_directory_is_refused(demo: DemoState) -> None:
    with pytest.raises(DemoRunning, match="already running") as caught:
        await up(demo.options)
    assert caught.value.hint is not None and "livesite demo down" in caught.value.hint
    assert (await status(demo.state_dir)).healthy


async def test_tokens_expire_after_their_ttl_and_refresh_renews_them(fresh_demo: DemoFactory) -> None:
    state = await fresh_demo(token_ttl_seconds=1, instances_per_zone=1)
    base = state.zone_url("zone-a")
    creds = {"email": "ttl@example.test", "password": "secret-pw"}
    async with httpx.AsyncClient() as client:
        await client.post(f"{base}/api/register", json=creds)
        login = (await client.post(f"{base}/api/login", json=creds)).json()
        auth = {"Authorization": f"Bearer {login['token']}"}
        assert (await client.get(f"{base}/api/me", headers=auth)).status_code == 200

        async def expired() -> httpx.Response | None:
            reply = await client.get(f"{base}/api/me", headers=auth)
            return reply if reply.status_code == 401 else None

        reply = await eventually(expired, timeout_seconds=5)
        assert time.time() >= login["expires_at"]
        assert "expired" in reply.json()["error"]
        renewed = await client.post(f"{base}/api/refresh", json={"refresh_token": login["refresh_token"]})
        new_auth = {"Authorization": f"Bearer {renewed.json()['token']}"}
        assert (await client.get(f"{state.zone_url('zone-b')}/api/me", headers=new_auth)).status_code == 200


async def test_a_stale_state_file_is_cleaned_up_and_customers_make_load(fresh_demo: DemoFactory) -> None:
    state = await fresh_demo(instances_per_zone=1, customers_per_second=20)
    customers = state.component("customers")
    admin = {"Authorization": f"Bearer {state.admin_token}"}
    async with httpx.AsyncClient() as client:

        async def visited() -> bool:
            stats = (await client.get(f"{customers.url}/-/stats", headers=admin)).json()
            return sum(j["visits"] for j in stats.values()) >= 10 and stats["buy"]["requests"] > 0

        await eventually(visited, timeout_seconds=10)
    for component in state.components:  # a crash of everything: the state file stays behind
        assert await control.kill(state, component.name)
    assert not (await status(state.state_dir)).running

    again = await fresh_demo.start(state.options)
    assert any("stale state file" in notice for notice in again.notices)
    assert (await status(state.state_dir)).healthy


async def test_a_killed_instance_shows_dead_traffic_moves_on_and_down_cleans_up(
    fresh_demo: DemoFactory,
) -> None:
    state = await fresh_demo()
    assert await control.kill(state, "shop-a1")
    report = await status(state.state_dir)
    rows = {c.name: c for c in report.components}
    assert not rows["shop-a1"].alive and rows["shop-a1"].detail == "not running"
    assert rows["shop-a2"].healthy and not report.healthy
    async with httpx.AsyncClient() as client:
        for _ in range(4):
            reply = await client.get(f"{state.zone_url('zone-a')}/version")
            assert reply.status_code == 200 and reply.headers["x-instance"] == "shop-a2"
    stopped = await down(state.state_dir)
    assert "shop-a1" not in stopped and len(stopped) == len(state.components) - 1
    assert not state_path(state.state_dir).exists()


async def test_deploy_restarts_one_instance_with_a_new_revision(fresh_demo: DemoFactory) -> None:
    state = await fresh_demo()
    old_pid = state.component("shop-a2").pid
    updated = await control.deploy(state, "shop-a2", revision="v2", defects=["checkout-errors:1"])
    canary = updated.component("shop-a2")
    assert canary.pid != old_pid and canary.revision == "v2" and canary.defects == ["checkout-errors:1.0"]
    fresh_demo.started[state.state_dir].append(canary)
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{canary.url}/version")).headers["x-version"] == "v2"
        await control.set_weights(updated, "zone-a", {"shop-a1": 0, "shop-a2": 1})
        assert (await client.get(f"{state.front_url('zone-a')}/version")).headers["x-version"] == "v2"
    rows = {c.name: c for c in (await status(state.state_dir)).components}
    assert rows["shop-a2"].revision == "v2" and rows["shop-a2"].healthy

    with pytest.raises(DemoError, match="only shop instances"):
        await control.deploy(updated, "edge-a")
    # shop-b2 never had traffic through front-b (round-robin starts at shop-b1), so no orphaned connection
    # of the killed process lingers on its port and an ordinary server socket can take it
    assert await control.kill(updated, "shop-b2")
    with socket.socket() as stranger:
        stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        stranger.bind(("127.0.0.1", updated.component("shop-b2").port))
        stranger.listen()
        with pytest.raises(DemoError, match="taken by another process"):
            await control.restart(updated, "shop-b2")
    restarted = await control.restart(updated, "shop-b2")
    fresh_demo.started[state.state_dir].append(restarted.component("shop-b2"))
    assert (await status(state.state_dir)).healthy


def test_down_never_signals_a_pid_that_is_not_ours(tmp_path: Path) -> None:
    state_dir = tmp_path / "foreign"
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        state_dir.mkdir()
        fake = {
            "state_dir": str(state_dir),
            "db_path": str(state_dir / "shop.db"),
            "started_at": "2024-01-01T00:00:00Z",
            "options": {"state_dir": str(state_dir)},
            "components": [
                {  # the pid and create time are right, but the command line is not a demo component's
                    "name": "shop-a1",
                    "kind": "shop",
                    "zone": "zone-a",
                    "url": "http://127.0.0.1:1",
                    "port": 1,
                    "pid": stranger.pid,
                    "create_time": psutil.Process(stranger.pid).create_time(),
                    "health_path": "/health",
                    "config_path": str(state_dir / "run" / "shop-a1.json"),
                    "log_path": str(state_dir / "logs" / "shop-a1.log"),
                }
            ],
        }
        state_path(state_dir).write_text(json.dumps(fake))
        assert run_sync(down(state_dir)) == []
        assert stranger.poll() is None, "down killed a process that is not part of the demo"
        assert not state_path(state_dir).exists()
    finally:
        stranger.send_signal(signal.SIGTERM)
        stranger.wait()
