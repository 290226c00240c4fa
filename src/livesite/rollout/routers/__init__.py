"""Routers: the data planes a rollout moves traffic on, behind one small Protocol (see base.py).

HaproxyRouter   HAProxy's Runtime API over its stats socket (haproxy_config generates haproxy.cfg)
NginxRouter     a generated include file + `nginx -t` + reload, read back from a state location
BuiltinRouter   the admin API of livesite's built-in router (and the demo's fronts)
"""

from livesite.rollout.routers.base import (
    BackendStats,
    Drainable,
    Latency,
    Route,
    Router,
    RouterError,
    RouterState,
)
from livesite.rollout.routers.builtin import BuiltinRouter, BuiltinSettings
from livesite.rollout.routers.haproxy import HaproxyRouter
from livesite.rollout.routers.haproxy_config import HaproxyLayout, Sticky
from livesite.rollout.routers.nginx import NginxRouter
from livesite.rollout.routers.nginx_config import NginxLayout

__all__ = [
    "BackendStats",
    "BuiltinRouter",
    "BuiltinSettings",
    "Drainable",
    "HaproxyLayout",
    "HaproxyRouter",
    "Latency",
    "NginxLayout",
    "NginxRouter",
    "Route",
    "Router",
    "RouterError",
    "RouterState",
    "Sticky",
]
