"""The built-in L7 router: weighted split, sticky cohorts, header/cookie routes, per-backend stats,
health checks with failover and a fault hook, driven through an admin API under ``/-/``.

    async with Router(RouterSettings(port=0, backends=parse_backends(["http://127.0.0.1:8001=90",
                                                                      "http://127.0.0.1:8002=10"]))) as router:
        ...  # router.url

See docs/router.md.
"""

from livesite.dataplane.router.core import Router, WeightsError
from livesite.dataplane.router.faults import FaultSpec
from livesite.dataplane.router.settings import (
    BackendError,
    BackendSpec,
    HealthCheck,
    Limits,
    Route,
    RouterSettings,
    Sticky,
    Timeouts,
    parse_backend,
    parse_backends,
)

__all__ = [
    "BackendError",
    "BackendSpec",
    "FaultSpec",
    "HealthCheck",
    "Limits",
    "Route",
    "Router",
    "RouterSettings",
    "Sticky",
    "Timeouts",
    "WeightsError",
    "parse_backend",
    "parse_backends",
]
