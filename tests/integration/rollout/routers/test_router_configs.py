"""Generated configs pass the real `haproxy -c` and `nginx -t`, for any number of backends and routes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import _require
from livesite.rollout.routers import HaproxyLayout, NginxLayout, Route, Sticky
from livesite.rollout.routers.haproxy_config import write
from livesite.rollout.routers.nginx_config import render_conf, render_include

EXAMPLES = Path(__file__).resolve().parents[4] / "examples" / "routers"
BACKENDS = {"stable": "127.0.0.1:8001", "canary": "127.0.0.1:8002"}


def _backends(n: int) -> dict[str, str]:
    return {f"rev-{i}": f"127.0.0.1:{9000 + i}" for i in range(n)}


@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("sticky", [None, Sticky(header="X-Livesite-Synthetic"), Sticky(cookie="uid")])
def test_the_generated_haproxy_cfg_is_valid_without_warnings(
    tmp_path: Path, n: int, sticky: Sticky | None
) -> None:
    haproxy = _require("haproxy", "haproxy")
    layout = HaproxyLayout(
        socket=tmp_path / "s.sock",
        backends=_backends(n),
        map_dir=tmp_path / "maps",
        sticky=sticky,
        route_headers=("X-Livesite-Route", "X-Team"),
        route_cookies=("livesite_route",),
    )
    config = write(layout, tmp_path / "haproxy.cfg")
    checked = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "WARNING" not in checked.stdout + checked.stderr


@pytest.mark.parametrize("n", [1, 2, 5])
def test_the_generated_nginx_conf_is_valid_with_routes_from_several_sources(tmp_path: Path, n: int) -> None:
    nginx = _require("nginx", "nginx-light")
    backends = _backends(n)
    layout = NginxLayout(
        backends=backends,
        sticky=Sticky(cookie="uid"),
        include_path=tmp_path / "livesite.conf",
        conf_path=tmp_path / "nginx.conf",
        prefix=tmp_path,
        state_url="http://127.0.0.1:1/-/livesite",
        access_log=tmp_path / "access.json",
    )
    last = list(backends)[-1]
    routes = [
        Route(header="X-Livesite-Route", value="canary", backend=last),
        Route(cookie="livesite_route", value="c1", backend=last),
        Route(header="X-Team", value="qa.team+1", backend=last),
        Route(header="X-Livesite-Route", value="stable", backend="rev-0"),
    ]
    weights = dict.fromkeys(backends, 0) | {"rev-0": 1}
    layout.include_path.write_text(render_include(layout, weights, routes, 7))
    layout.conf_path.write_text(render_conf(layout, listen="127.0.0.1:1"))
    checked = subprocess.run(
        [nginx, "-t", "-c", str(layout.conf_path), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr


def test_the_example_files_are_what_the_generator_writes_for_etc_livesite() -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        from generate import render_all  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(EXAMPLES))
    files = render_all(Path("/etc/livesite"), BACKENDS, "127.0.0.1:8080")
    for name in ("haproxy.cfg", "nginx.conf", "livesite.conf"):
        assert (EXAMPLES / name).read_text() == files[name], f"regenerate examples/routers/{name}"


def test_the_example_generator_writes_configs_haproxy_and_nginx_accept(tmp_path: Path) -> None:
    haproxy, nginx = _require("haproxy", "haproxy"), _require("nginx", "nginx-light")
    subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "generate.py"),
            str(tmp_path),
            *(f"{k}={v}" for k, v in BACKENDS.items()),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert (
        subprocess.run([haproxy, "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True).returncode
        == 0
    )
    nginx_t = [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)]
    assert subprocess.run(nginx_t, capture_output=True).returncode == 0
