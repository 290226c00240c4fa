"""A Chaos Toolkit extension: livesite checks as steady-state probes, livesite faults as actions.

Use it from an experiment run by the real ``chaos run`` CLI (``pip install chaostoolkit``)::

    {"type": "probe", "name": "checkout-works", "tolerance": true,
     "provider": {"type": "python", "module": "livesite.chaostoolkit.probes", "func": "check_passes",
                  "arguments": {"config": "checks.yaml", "check": "checkout"}}}

Faults are the same mappings as in livesite's own experiments and are held as leases in the config's
store, so ``livesite chaos halt`` and ``livesite chaos recover`` see and revert them too. Unlike Chaos
Toolkit's default, a livesite fault expires at its TTL even if no rollback ever runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(work: Coroutine[Any, Any, T]) -> T:
    """Chaos Toolkit calls providers synchronously: each call gets its own event loop."""
    return asyncio.run(work)


def resolve_config(config: str) -> Path:
    path = Path(config).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"livesite config {config!r} not found (relative to {Path.cwd()})")
    return path
