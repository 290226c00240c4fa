"""The haproxy.cfg a HAProxy router needs, generated for N backends (pure: text in, text out).

One frontend, one weighted backend holding a server per livesite backend, and one single-server backend
per livesite backend that header/cookie routes pin requests to (so a pinned fake user reaches the canary
even while its weight is 0). Routes are HAProxy maps, one map file per header or cookie, changed at run
time through the Runtime API; weights are ``set server`` commands on the weighted backend::

    frontend livesite
        bind 127.0.0.1:8080
        use_backend %[req.hdr(X-Livesite-Route),map(/etc/haproxy/livesite/header-x-livesite-route.map)] if { ... -m found }
        default_backend livesite
    backend livesite
        balance hdr(X-Livesite-Synthetic)   # sticky cohorts: one hash per fake user; round robin without it
        hash-type consistent                 # a user never flips back while the canary's weight only grows
        server stable 127.0.0.1:8001 weight 90
        server canary 127.0.0.1:8002 weight 10
    backend livesite_canary
        server canary 127.0.0.1:8002
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from livesite.rollout.routers.base import BACKEND_NAME, COOKIE_NAME, HEADER_NAME, MAX_WEIGHT

ADDRESS = r"^[A-Za-z0-9.\-]+:[0-9]{1,5}$|^\[[0-9a-fA-F:]+\]:[0-9]{1,5}$"


class Sticky(BaseModel):
    """Hash requests on a header or a cookie so one user keeps one backend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    header: str | None = Field(default=None, pattern=HEADER_NAME)
    cookie: str | None = Field(default=None, pattern=COOKIE_NAME)


class HaproxyLayout(BaseModel):
    """Everything both the generated haproxy.cfg and :class:`HaproxyRouter` must agree on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    socket: Path  # the stats socket, `level admin`
    backends: dict[str, str]  # livesite backend name -> host:port, in order
    weights: dict[str, int] = {}  # initial weights; a backend not named starts at 0 except the first (100)
    bind: str = Field(default="127.0.0.1:8080", pattern=ADDRESS)
    proxy: str = Field(default="livesite", pattern=BACKEND_NAME)  # the weighted backend's name
    map_dir: Path
    route_headers: tuple[str, ...] = ("X-Livesite-Route",)
    route_cookies: tuple[str, ...] = ("livesite_route",)
    sticky: Sticky | None = None
    maxconn: int = Field(default=4000, ge=1, le=8000)  # above ~8000 HAProxy hits the open-file limit
    timeout_server_seconds: float = Field(default=30.0, gt=0)

    @field_validator("backends")
    @classmethod
    def _backends(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("at least one backend")
        for name, address in value.items():
            if not re.match(BACKEND_NAME, name):
                raise ValueError(f"backend name {name!r} must match {BACKEND_NAME}")
            if not re.match(ADDRESS, address):
                raise ValueError(f"backend {name}: address {address!r} must be host:port")
        return value

    @field_validator("route_headers")
    @classmethod
    def _headers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not re.match(HEADER_NAME, name):
                raise ValueError(f"route header {name!r} must match {HEADER_NAME}")
        return value

    @field_validator("route_cookies")
    @classmethod
    def _cookies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not re.match(COOKIE_NAME, name):
                raise ValueError(f"route cookie {name!r} must match {COOKIE_NAME}")
        return value

    @property
    def state_file(self) -> Path:
        """Where the router saves server weights and drain states, which HAProxy loads at start."""
        return self.map_dir / "servers.state"

    def pinned(self, backend: str) -> str:
        """The single-server HAProxy backend that routes pin requests to."""
        return f"{self.proxy}_{backend}"

    def map_file(self, kind: str, name: str) -> Path:
        """The map file of a route source ("header", "X-Livesite-Route") → routes.map path."""
        slug = re.sub(r"[^a-z0-9_-]", "-", name.lower())
        return self.map_dir / f"{kind}-{slug}.map"

    def route_maps(self) -> dict[tuple[str, str], Path]:
        """(kind, name as Route.source spells it) → map file, for every route source the config has."""
        return {
            (kind, name.lower() if kind == "header" else name): path for kind, name, path in self.sources()
        }

    def sources(self) -> list[tuple[str, str, Path]]:
        """(kind, name as written, map file) of every route source, headers first."""
        out = [("header", h, self.map_file("header", h)) for h in self.route_headers]
        return out + [("cookie", c, self.map_file("cookie", c)) for c in self.route_cookies]

    def initial_weight(self, backend: str) -> int:
        if self.weights:
            return min(self.weights.get(backend, 0), MAX_WEIGHT)
        return 100 if backend == next(iter(self.backends)) else 0


def render(layout: HaproxyLayout) -> str:
    """The haproxy.cfg text for ``layout`` (map files must exist: see :func:`write`)."""
    lines = [
        "# generated by livesite (livesite.rollout.routers.haproxy_config); the HAProxy router changes",
        "# weights and routes at run time through the stats socket below",
        "global",
        f"    stats socket {layout.socket} mode 600 level admin",
        "    stats timeout 30s",
        # Runtime weights die with the process; the router saves them here after each change so a
        # restart or reload starts where the rollout was.
        f"    server-state-file {layout.state_file}",
        f"    maxconn {layout.maxconn}",
        "",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 30s",
        f"    timeout server {int(layout.timeout_server_seconds * 1000)}ms",
        "    retries 1",
        "    option redispatch",
        "    load-server-state-from-file global",
        "",
        f"frontend {layout.proxy}_front",
        f"    bind {layout.bind}",
    ]
    for header in layout.route_headers:
        path = layout.map_file("header", header)
        lookup = f"req.hdr({header}),map({path})"
        lines.append(f"    use_backend %[{lookup}] if {{ {lookup} -m found }}")
    for cookie in layout.route_cookies:
        path = layout.map_file("cookie", cookie)
        lookup = f"req.cook({cookie}),map({path})"
        lines.append(f"    use_backend %[{lookup}] if {{ {lookup} -m found }}")
    lines += [f"    default_backend {layout.proxy}", "", f"backend {layout.proxy}"]
    if layout.sticky is None:
        lines.append("    balance roundrobin")
    else:
        # Without the header or cookie HAProxy falls back to round robin, so ordinary traffic still
        # follows the weights; consistent hashing keeps set-server-weight dynamic.
        if layout.sticky.header is not None:
            lines.append(f"    balance hdr({layout.sticky.header})")
        else:
            lines.append(f"    balance hash req.cook({layout.sticky.cookie})")
        lines.append("    hash-type consistent")
    for name, address in layout.backends.items():
        lines.append(f"    server {name} {address} weight {layout.initial_weight(name)}")
    for name, address in layout.backends.items():
        lines += ["", f"backend {layout.pinned(name)}", f"    server {name} {address}"]
    return "\n".join(lines) + "\n"


def write(layout: HaproxyLayout, path: Path) -> Path:
    """Write haproxy.cfg to ``path`` and create the (empty) route map files it loads."""
    layout.map_dir.mkdir(parents=True, exist_ok=True)
    if not layout.state_file.exists():
        layout.state_file.write_text("1\n")  # the format's version line: HAProxy warns about a missing file
    for map_path in layout.route_maps().values():
        if not map_path.exists():
            map_path.write_text("")
    path.write_text(render(layout))
    return path
