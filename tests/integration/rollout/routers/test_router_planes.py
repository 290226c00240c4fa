"""What only one data plane does: HAProxy's drain and route sources, nginx's refused reloads, sticky cohorts."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from conftest import NameServer, start_haproxy, start_nginx
from livesite.rollout.routers import HaproxyLayout, HaproxyRouter, NginxRouter, Route, RouterError, Sticky

CANARY = Route(header="X-Livesite-Route", value="canary", backend="canary")


async def backend_of(url: str, headers: dict[str, str] | None = None) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(url, headers=headers)).text


async def backends_of(url: str, users: list[str], sticky: Sticky | None = None) -> dict[str, str]:
    """Which backend each sticky user lands on (one client: creating one costs ~40 ms)."""

    def who(user: str) -> dict[str, str]:
        if sticky is not None and sticky.cookie is not None:
            return {"Cookie": f"{sticky.cookie}={user}", "Connection": "close"}
        return {"X-Livesite-Synthetic": user, "Connection": "close"}

    async with httpx.AsyncClient(timeout=5) as client:
        return {u: (await client.get(url, headers=who(u))).text for u in users}


async def test_nginx_refuses_a_broken_config_and_keeps_serving_the_previous_one(
    tmp_path: Path, backends: dict[str, NameServer]
) -> None:
    layout, process = await start_nginx(tmp_path, backends)
    try:
        router = NginxRouter(layout)
        await router.set_weights({"stable": 0, "canary": 100})
        good = (await router.verify()).generation
        included = layout.include_path.read_text()
        main = layout.conf_path.read_text()
        layout.conf_path.write_text(main.replace("access_log off;", "access_log off; no_such_directive 1;"))
        with pytest.raises(RouterError) as caught:
            await router.set_weights({"stable": 100, "canary": 0})
        assert caught.value.kind == "rejected"
        assert "no_such_directive" in str(caught.value)
        assert "previous config keeps serving" in str(caught.value)
        assert layout.include_path.read_text() == included  # put back: disk and workers agree
        url = layout.state_url.removesuffix("/-/livesite")
        assert {await backend_of(url) for _ in range(10)} == {"canary"}
        layout.conf_path.write_text(main)
        state = await router.verify()
        assert state.generation == good
        assert state.weights == {"stable": 0, "canary": 100}
    finally:
        process.stop()


async def test_nginx_verify_notices_a_file_written_but_not_reloaded(
    tmp_path: Path, backends: dict[str, NameServer]
) -> None:
    layout, process = await start_nginx(tmp_path, backends)
    try:
        router = NginxRouter(layout)
        await router.set_weights({"stable": 60, "canary": 40})
        layout.include_path.write_text(layout.include_path.read_text().replace("weight=40", "weight=41"))
        with pytest.raises(RouterError) as caught:
            await NginxRouter(layout).verify()  # even a router that asked nothing sees it
        assert caught.value.kind == "mismatch"
        assert "edited by hand" in str(caught.value)
    finally:
        process.stop()


async def test_haproxy_drain_stops_new_requests_to_a_backend_until_it_is_ready_again(
    tmp_path: Path, backends: dict[str, NameServer]
) -> None:
    layout, process = await start_haproxy(tmp_path, backends)
    try:
        router = HaproxyRouter(layout)
        await router.set_weights({"stable": 50, "canary": 50})
        await router.drain("canary")
        state = await router.verify()
        assert state.draining == ["canary"]
        url = f"http://{layout.bind}/"
        assert {await backend_of(url) for _ in range(10)} == {"stable"}
        await router.undrain("canary")
        assert (await router.verify()).draining == []
        assert "canary" in {await backend_of(url) for _ in range(10)}
    finally:
        process.stop()


async def test_haproxy_refuses_a_route_source_its_config_does_not_have(
    tmp_path: Path, backends: dict[str, NameServer]
) -> None:
    layout, process = await start_haproxy(tmp_path, backends)
    try:
        router = HaproxyRouter(layout)
        with pytest.raises(RouterError) as caught:
            await router.set_routes([Route(header="X-Other", value="v", backend="canary")])
        assert caught.value.kind == "unsupported"
        assert "header x-other" in str(caught.value)
        assert (await router.verify()).routes == []
    finally:
        process.stop()


@pytest.mark.parametrize("kind", ["haproxy", "nginx"])
@pytest.mark.parametrize(
    "sticky",
    [Sticky(header="X-Livesite-Synthetic"), Sticky(cookie="livesite_user")],
    ids=["header", "cookie"],
)
async def test_a_sticky_user_never_flips_back_to_stable_while_the_canary_grows(
    kind: str, sticky: Sticky, tmp_path: Path, backends: dict[str, NameServer]
) -> None:
    if kind == "haproxy":
        hlayout, process = await start_haproxy(tmp_path, backends, sticky)
        router: HaproxyRouter | NginxRouter = HaproxyRouter(hlayout)
        url = f"http://{hlayout.bind}/"
    else:
        nlayout, process = await start_nginx(tmp_path, backends, sticky)
        router = NginxRouter(nlayout)
        url = nlayout.state_url.removesuffix("-/livesite")
    try:
        users = [f"user-{i}" for i in range(40)]
        on_canary: set[str] = set()
        for weight in (10, 50, 90):
            await router.set_weights({"stable": 100 - weight, "canary": weight})
            landed = await backends_of(url, users, sticky)
            now = {u for u, backend in landed.items() if backend == "canary"}
            assert on_canary <= now, f"users flipped back to stable at {weight}%: {on_canary - now}"
            assert await backends_of(url, users, sticky) == landed  # each user keeps its backend
            on_canary = now
        assert len(on_canary) > 20
        # without the header, traffic still follows the weights
        async with httpx.AsyncClient(timeout=5) as client:
            seen = Counter([(await client.get(url)).text for _ in range(50)])
        assert seen["canary"] >= 35, seen
    finally:
        process.stop()


async def test_two_routers_changing_one_nginx_at_once_both_land_in_order(
    tmp_path: Path, backends: dict[str, NameServer]
) -> None:
    layout, process = await start_nginx(tmp_path, backends)
    try:
        first, second = NginxRouter(layout), NginxRouter(layout)
        start = int((await first.verify()).generation)
        await asyncio.gather(first.set_weights({"canary": 10}), second.set_routes([CANARY]))
        state = await first.verify()
        assert int(state.generation) == start + 2  # neither overwrote the other's generation
        assert state.weights["canary"] == 10
        assert state.routes == [CANARY]
        await second.verify()
    finally:
        process.stop()


async def test_haproxy_says_which_weights_were_applied_when_a_later_one_is_refused(
    tmp_path: Path, backends: dict[str, NameServer]
) -> None:
    layout, process = await start_haproxy(tmp_path, backends)
    try:
        router = HaproxyRouter(layout)
        await router.set_weights({"stable": 100, "canary": 0})
        # HAProxy refuses nothing here, so make it: a layout naming a server the running config lacks
        wider = layout.model_copy(update={"backends": {**layout.backends, "ghost": "127.0.0.1:1"}})
        with pytest.raises(RouterError) as caught:
            await HaproxyRouter(wider).set_weights({"stable": 60, "ghost": 5})
        assert caught.value.kind == "rejected"
        assert "already applied: {'stable': 60}" in str(caught.value)
        assert (await HaproxyRouter(layout).verify()).weights["stable"] == 60
    finally:
        process.stop()


async def test_haproxy_restarted_mid_rollout_comes_back_with_its_weights_drains_and_routes(
    tmp_path: Path, backends: dict[str, NameServer]
) -> None:
    layout, process = await start_haproxy(tmp_path, backends)
    try:
        router = HaproxyRouter(layout)
        await router.set_weights({"stable": 70, "canary": 30})
        await router.set_routes([CANARY])
        await router.drain("stable")
        process.stop()
        layout, process = await start_haproxy(tmp_path, backends, same=layout)
        state = await router.verify()  # the same router: what it asked is what runs again
        assert state.weights == {"stable": 70, "canary": 30}
        assert state.draining == ["stable"]
        assert state.routes == [CANARY]
    finally:
        process.stop()


async def test_an_nginx_reload_the_master_cannot_apply_times_out_and_the_old_config_keeps_serving(
    tmp_path: Path, backends: dict[str, NameServer]
) -> None:
    layout, process = await start_nginx(tmp_path, backends)
    try:
        router = NginxRouter(layout.model_copy(update={"reload_timeout_seconds": 1.0}))
        await router.set_weights({"stable": 0, "canary": 100})
        before = layout.include_path.read_text()
        # `nginx -t` does not bind, so a port already taken passes the test and fails in the master
        taken = backends["stable"].address
        main = layout.conf_path.read_text()
        layout.conf_path.write_text(
            main.replace("    server {\n", f"    server {{\n        listen {taken};\n", 1)
        )
        with pytest.raises(RouterError) as caught:
            await router.set_weights({"stable": 100, "canary": 0})
        assert caught.value.kind == "timeout"
        assert "did not switch to generation" in str(caught.value)
        assert layout.include_path.read_text() == before
        layout.conf_path.write_text(main)
        assert (await router.verify()).weights == {"stable": 0, "canary": 100}
        assert await backend_of(layout.state_url.removesuffix("-/livesite")) == "canary"
    finally:
        process.stop()


async def test_a_state_url_that_is_not_livesites_is_a_mismatch_with_the_location_to_add(
    tmp_path: Path, backends: dict[str, NameServer]
) -> None:
    layout, process = await start_nginx(tmp_path, backends)
    try:
        elsewhere = layout.model_copy(update={"state_url": f"http://{backends['stable'].address}/-/livesite"})
        with pytest.raises(RouterError) as caught:
            await NginxRouter(elsewhere).verify()
        assert caught.value.kind == "mismatch"
        assert "return 200 $livesite_state" in str(caught.value)
    finally:
        process.stop()


async def test_a_haproxy_socket_that_never_answers_is_unreachable_after_the_timeout(tmp_path: Path) -> None:
    held: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read()  # reads the command, answers nothing

    path = tmp_path / "hang.sock"
    server = await asyncio.start_unix_server(hang, str(path))
    try:
        layout = HaproxyLayout(socket=path, backends={"stable": "127.0.0.1:1"}, map_dir=tmp_path)
        with pytest.raises(RouterError) as caught:
            await HaproxyRouter(layout, timeout_seconds=0.3).verify()
        assert caught.value.kind == "unreachable"
        assert "no answer" in str(caught.value)
        missing = layout.model_copy(update={"socket": tmp_path / "nothing.sock"})
        with pytest.raises(RouterError, match="cannot reach"):
            await HaproxyRouter(missing).set_weights({"stable": 1})
    finally:
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()


async def test_haproxy_says_when_a_change_runs_but_cannot_be_saved_for_a_restart(
    tmp_path: Path, backends: dict[str, NameServer]
) -> None:
    layout, process = await start_haproxy(tmp_path, backends)
    try:
        layout.state_file.unlink()
        layout.state_file.mkdir()  # a directory where the file should go: os.replace fails
        with pytest.raises(RouterError) as caught:
            await HaproxyRouter(layout).set_weights({"canary": 20})
        assert "cannot be saved" in str(caught.value)
        assert "restart of HAProxy would lose them" in str(caught.value)
        assert (await HaproxyRouter(layout).verify()).weights["canary"] == 20  # it does run
    finally:
        process.stop()
