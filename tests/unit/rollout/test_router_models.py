"""Pure parts of the routers: what a Route may hold, comparing asked with seen, reading access logs."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from livesite.rollout.routers import HaproxyLayout, NginxLayout, Route, RouterError, RouterState
from livesite.rollout.routers.access_log import MAX_LINE_BYTES, AccessLog
from livesite.rollout.routers.base import Asked, check_routes, check_weights, differences
from livesite.rollout.routers.haproxy_runtime import parse_map, parse_servers_state, parse_stat

DANGEROUS = set(" \t\r\n;'\"${}\\#")


@pytest.mark.parametrize(
    "value", ["a b", "x;set server", "$http_host", "it's", "{}", "a\nb", "", "x" * 129, "é"]
)
def test_a_route_value_that_could_change_a_command_or_config_is_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        Route(header="X-Livesite-Route", value=value, backend="canary")


@settings(deadline=None)  # pure and fast, but the shared 2-core machine stalls now and then
@given(st.text(alphabet=string.printable + "é€", max_size=40))
def test_no_accepted_route_value_holds_a_character_that_means_something_to_haproxy_or_nginx(
    value: str,
) -> None:
    try:
        Route(header="X-Livesite-Route", value=value, backend="canary")
    except ValidationError:
        return
    assert not set(value) & DANGEROUS


def test_a_route_matches_exactly_one_header_or_cookie() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        Route(value="v", backend="canary")
    with pytest.raises(ValidationError, match="exactly one"):
        Route(header="X-A", cookie="a", value="v", backend="canary")
    assert Route(header="X-Livesite-Route", value="v", backend="c").source == ("header", "x-livesite-route")


def test_one_value_routed_to_two_backends_is_refused() -> None:
    routes = [
        Route(header="X-R", value="v", backend="stable"),
        Route(header="x-r", value="v", backend="canary"),
    ]
    with pytest.raises(RouterError, match="two backends") as caught:
        check_routes("test", routes, ["stable", "canary"])
    assert caught.value.kind == "rejected"


def test_weights_must_name_known_backends_and_fit_0_to_256() -> None:
    assert check_weights("t", {"canary": 256}, ["stable", "canary"]) == {"canary": 256}
    for bad in ({"canary": 257}, {"canary": -1}, {"other": 1}):
        with pytest.raises(RouterError):
            check_weights("t", bad, ["stable", "canary"])


def test_differences_name_each_weight_and_the_routes_that_differ() -> None:
    seen = RouterState(weights={"stable": 50, "canary": 50}, routes=[], generation="g")
    route = Route(header="X-R", value="v", backend="canary")
    assert differences({"stable": 50}, None, seen) == []
    wrong = differences({"canary": 10}, [route], seen)
    assert wrong == ["canary weight is 50 (asked 10)", "routes are none (asked header:x-r=v→canary)"]
    absent = RouterState(weights={}, routes=None, generation="g")
    assert "absent" in differences({}, [route], absent)[0]
    asked = Asked()
    asked.weights = {"canary": 10}
    with pytest.raises(RouterError) as caught:
        asked.check("r", seen)
    assert caught.value.kind == "mismatch"


def test_layouts_refuse_addresses_and_names_that_would_break_the_config(tmp_path: Path) -> None:
    for backends in ({"stable": "127.0.0.1:80; evil"}, {"bad name": "127.0.0.1:80"}, {}):
        with pytest.raises(ValidationError):
            HaproxyLayout(socket=tmp_path / "s", backends=backends, map_dir=tmp_path)
    with pytest.raises(ValidationError):
        HaproxyLayout(socket=tmp_path / "s", backends={"a": "127.0.0.1:1"}, map_dir=tmp_path, maxconn=9000)
    with pytest.raises(ValidationError, match="share an address"):
        NginxLayout(
            backends={"a": "127.0.0.1:1", "b": "127.0.0.1:1"},
            include_path=tmp_path / "i",
            conf_path=tmp_path / "c",
            state_url="http://x/",
            access_log=tmp_path / "l",
        )


STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change
3 livesite 1 stable 127.0.0.1 2 0 90 90 1
3 livesite 2 canary 127.0.0.1 2 8 10 10 1
4 livesite_canary 1 canary 127.0.0.1 2 0 1 1 1
"""


def test_haproxy_answers_are_read_as_haproxy_writes_them() -> None:
    servers = parse_servers_state(STATE, "livesite")
    assert {n: (s.weight, s.draining) for n, s in servers.items()} == {
        "stable": (90, False),
        "canary": (10, True),
    }
    with pytest.raises(ValueError, match="not a servers state"):
        parse_servers_state("No such backend.\n", "livesite")
    assert parse_map("0x55 canary livesite_canary\n\n") == {"canary": "livesite_canary"}
    with pytest.raises(ValueError):
        parse_map("Unknown map identifier. Please use #<id> or <file>.\n")
    assert parse_stat("# pxname,svname,stot\nlivesite,stable,3\n") == [
        {"pxname": "livesite", "svname": "stable", "stot": "3"}
    ]
    with pytest.raises(ValueError):
        parse_stat("Permission denied\n")


def _line(addr: str, ustatus: str, urt: str) -> str:
    return json.dumps({"addr": addr, "ustatus": ustatus, "urt": urt, "status": ustatus[-3:]}) + "\n"


def test_the_access_log_counts_every_attempt_for_its_backend(tmp_path: Path) -> None:
    path = tmp_path / "access.json"
    log = AccessLog(path, {"stable": "127.0.0.1:1", "canary": "127.0.0.1:2"})
    assert log.read()["stable"].requests == 0  # no file yet: nothing counted, no error
    path.write_text(
        _line("127.0.0.1:1", "200", "0.004")
        + _line("127.0.0.1:2, 127.0.0.1:1", "502, 200", "0.000, 0.020")  # canary refused, retried
        + _line("127.0.0.1:2", "503", "1.5")
        + _line("-", "-", "-")  # nginx answered itself
        + "not json at all\n"
        + _line("127.0.0.1:1", "200", "0.3")[:20]  # a line still being written
    )
    stats = log.read()
    assert (stats["stable"].requests, stats["stable"].errors) == (2, 0)
    assert (stats["canary"].requests, stats["canary"].errors) == (2, 2)
    assert stats["canary"].status == {"5xx": 2}
    assert stats["stable"].latency.sum_seconds == pytest.approx(0.024)
    assert stats["stable"].latency.buckets is not None
    assert stats["stable"].latency.buckets[0] == (0.005, 1)
    assert log.skipped == 1
    with path.open("a") as handle:  # the rest of the half-written line arrives
        handle.write(_line("127.0.0.1:1", "200", "0.3")[20:])
    assert log.read()["stable"].requests == 3


def test_the_access_log_survives_rotation_and_never_buffers_an_endless_line(tmp_path: Path) -> None:
    path = tmp_path / "access.json"
    log = AccessLog(path, {"stable": "127.0.0.1:1"})
    path.write_text(_line("127.0.0.1:1", "200", "0.001") * 3)
    assert log.read()["stable"].requests == 3
    path.rename(tmp_path / "access.json.1")  # logrotate: a new file at the same path
    path.write_text(_line("127.0.0.1:1", "200", "0.001"))
    assert log.read()["stable"].requests == 4
    path.write_text("")  # truncated in place
    assert log.read()["stable"].requests == 4
    with path.open("a") as handle:
        handle.write("x" * (MAX_LINE_BYTES * 3))
    log.read()
    assert len(log.partial) <= MAX_LINE_BYTES + 1024 * 1024
