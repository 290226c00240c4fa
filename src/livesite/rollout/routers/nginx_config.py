"""The nginx files the nginx router writes (pure: state in, text out) and reads back.

The router owns ONE file, included at the top of nginx's ``http {}`` block. It holds the weighted
upstream, one single-server upstream per backend (what routes pin to), the route maps, the JSON
access-log format the router's stats read, and ``$livesite_state``: the generation, fingerprint,
weights and routes this file was generated with. A location serving that variable is how verify()
learns which file the workers really run::

    http {
        include /etc/nginx/livesite.conf;            # written by the router
        server {
            listen 80;
            location = /-/livesite { default_type application/json; access_log off; return 200 $livesite_state; }
            location / {
                proxy_pass http://$livesite_upstream;
                access_log /var/log/nginx/livesite.json livesite_json;
            }
        }
    }
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from livesite.rollout.routers.base import BACKEND_NAME, Route
from livesite.rollout.routers.haproxy_config import ADDRESS, Sticky

STATE_LINE = "map $host $livesite_state"  # the one line left out of the fingerprint (it carries it)
_HEADER = re.compile(r"^# livesite generation (\d+)$", re.M)


class NginxLayout(BaseModel):
    """What the router, its include file and the surrounding nginx.conf must agree on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backends: dict[str, str]  # backend name -> host:port, in order
    weights: dict[str, int] = {}  # initial weights; unnamed backends start at 0 except the first (100)
    proxy: str = Field(default="livesite", pattern=BACKEND_NAME)
    sticky: Sticky | None = None
    include_path: Path  # the file the router owns
    conf_path: Path  # nginx's main config (for `nginx -t` and `nginx -s reload`)
    prefix: Path | None = None  # nginx -p
    state_url: str  # http://HOST:PORT/-/livesite, a location that returns $livesite_state
    access_log: Path  # where `livesite_json` lines go (the router's stats read it)
    pid_file: Path | None = None  # the master's pid file: lets a reload wait until old workers stop accepting
    nginx_binary: str = "nginx"
    reload_timeout_seconds: float = Field(default=10.0, gt=0)

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
        if len(set(value.values())) != len(value):
            raise ValueError("two backends share an address; the access log could not tell them apart")
        return value

    def initial_weights(self) -> dict[str, int]:
        first = next(iter(self.backends))
        return {
            b: self.weights.get(b, 0) if self.weights else (100 if b == first else 0) for b in self.backends
        }


def variable(route: Route) -> str:
    """The nginx variable a route's source reads (`$http_x_livesite_route`, `$cookie_livesite_route`)."""
    kind, name = route.source
    if kind == "header":
        return "$http_" + name.replace("-", "_")
    return "$cookie_" + name


def render_include(
    layout: NginxLayout, weights: Mapping[str, int], routes: Sequence[Route], generation: int
) -> str:
    """The router-owned include file for this state."""
    p = layout.proxy
    body = [
        f"# livesite generation {generation}",
        "# written by livesite's nginx router: edits are overwritten, and verify() reports them",
        'log_format livesite_json escape=json \'{"addr":"$upstream_addr","ustatus":"$upstream_status",'
        '"urt":"$upstream_response_time","status":"$status"}\';',
        f"upstream {p} {{",
    ]
    if layout.sticky is not None:
        key = (
            "$http_" + layout.sticky.header.lower().replace("-", "_")
            if layout.sticky.header is not None
            else f"$cookie_{layout.sticky.cookie}"
        )
        body.append(f"    hash {key} consistent;")
    for name, address in layout.backends.items():
        weight = weights.get(name, 0)
        # nginx has no weight 0: `down` takes the server out, weight=1 keeps the line valid
        server = f"weight={weight}" if weight > 0 else "weight=1 down"
        body.append(f"    server {address} {server};  # {name}")
    body.append("}")
    for name, address in layout.backends.items():
        body.append(f"upstream {p}_{name} {{ server {address}; }}")
    # Chained maps, one per route source in the order routes name them; the first source wins.
    sources: list[str] = []
    for route in routes:
        if variable(route) not in sources:
            sources.append(variable(route))
    for index, source in reversed(list(enumerate(sources))):
        target = "$livesite_upstream" if index == 0 else f"$livesite_route_{index}"
        fallback = f"$livesite_route_{index + 1}" if index + 1 < len(sources) else p
        entries = " ".join(f'"{r.value}" {p}_{r.backend};' for r in routes if variable(r) == source)
        body.append(f"map {source} {target} {{ default {fallback}; {entries} }}")
    if not sources:
        body.append(f"map $host $livesite_upstream {{ default {p}; }}")
    text = "\n".join(body) + "\n"
    state = {
        "generation": generation,
        "fingerprint": fingerprint_of(text),
        "weights": dict(weights),
        "routes": [r.model_dump(exclude_none=True) for r in routes],
    }
    # single quotes around JSON: names and values are validated never to hold quotes, '$' or spaces
    return text + f"{STATE_LINE} {{ default '{json.dumps(state, separators=(',', ':'))}'; }}\n"


def fingerprint_of(text: str) -> str:
    """Hash of an include file's lines but the state line (which carries the hash)."""
    kept = "\n".join(line for line in text.splitlines() if not line.startswith(STATE_LINE))
    return hashlib.sha256(kept.encode()).hexdigest()[:16]


def generation_of(text: str) -> int | None:
    found = _HEADER.search(text)
    return int(found.group(1)) if found else None


def render_conf(layout: NginxLayout, *, listen: str, user: str | None = None, workers: int = 1) -> str:
    """A whole nginx.conf around the include (tests, the demo, or a starting point for users)."""
    prefix = layout.prefix or layout.conf_path.parent
    user_line = f"user {user};\n" if user else ""
    return f"""# generated by livesite (livesite.rollout.routers.nginx_config)
{user_line}worker_processes {workers};
pid {layout.pid_file or prefix / "nginx.pid"};
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include {layout.include_path};
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen {listen};
        location = /-/livesite {{
            default_type application/json;
            access_log off;
            return 200 $livesite_state;
        }}
        location / {{
            proxy_pass http://$livesite_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            access_log {layout.access_log} livesite_json;
        }}
    }}
}}
"""
