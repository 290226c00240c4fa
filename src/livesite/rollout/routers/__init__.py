"""Routers: the data planes a rollout moves traffic on, behind one small Protocol (see base.py).

    HaproxyRouter   HAProxy's Runtime API over its stats socket (haproxy_config generates haproxy.cfg)
    NginxRouter     a generated include file + `nginx -t` + reload, read back from a state location
    BuiltinRouter   the admin API of livesite's built-in router (and the demo's fronts)

A rollout spec names its router with one of the settings models, told apart by ``kind``
(``haproxy | nginx | builtin``: the ``RouterSettings`` union); :func:`router_for` makes the router.
"""

from typing import Annotated

from pydantic import Field

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

RouterSettings = Annotated[HaproxyLayout | NginxLayout | BuiltinSettings, Field(discriminator="kind")]


def router_for(settings: HaproxyLayout | NginxLayout | BuiltinSettings) -> Router:
    """The router its settings describe (a new router: one module, one union member, one line here)."""
    if isinstance(settings, HaproxyLayout):
        return HaproxyRouter(settings)
    if isinstance(settings, NginxLayout):
        return NginxRouter(settings)
    return BuiltinRouter(settings)


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
    "RouterSettings",
    "RouterState",
    "Sticky",
    "router_for",
]
