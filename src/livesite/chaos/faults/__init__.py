"""Faults: one module per kind, each resolving its targets, injecting and reverting (``FAULTS``).

A fault is applied only after its lease is written (``chaos/leases.py``), and everything its revert
needs is in the lease's payload, so ``livesite chaos recover`` can undo it after the runner died.
"""

from __future__ import annotations

from collections.abc import Mapping

from livesite.chaos.faults import http, network, process, proxy, stress
from livesite.chaos.faults.base import FaultError, FaultKind, Info, Target

FAULTS: Mapping[str, FaultKind] = {
    "process": process.KIND,
    "stress": stress.KIND,
    "proxy": proxy.KIND,
    "http": http.KIND,
    "network": network.KIND,
}

__all__ = ["FAULTS", "FaultError", "FaultKind", "Info", "Target"]
