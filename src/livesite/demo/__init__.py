"""The demo production: a small shop in two zones, as real processes on 127.0.0.1, with seeded defects.

    client -> edge-<z> (cache, public zone URL) -> front-<z> (weighted balancer) -> shop-<z>1..n -> partner

`up` starts it, `down` stops what `up` started (and nothing else), `status` probes it, and
`livesite.demo.control` changes it at run time. See docs/demo.md.
"""

from livesite.demo.defects import DEFECTS, Defects, parse_defects
from livesite.demo.errors import DefectError, DemoError, DemoNotRunning, DemoRunning
from livesite.demo.lifecycle import current, down, status, up
from livesite.demo.state import (
    Component,
    ComponentStatus,
    DemoOptions,
    DemoState,
    DemoStatus,
    default_state_dir,
    read_state,
)

__all__ = [
    "DEFECTS",
    "Component",
    "ComponentStatus",
    "DefectError",
    "Defects",
    "DemoError",
    "DemoNotRunning",
    "DemoOptions",
    "DemoRunning",
    "DemoState",
    "DemoStatus",
    "current",
    "default_state_dir",
    "down",
    "parse_defects",
    "read_state",
    "status",
    "up",
]
