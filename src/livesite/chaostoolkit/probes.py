"""Steady-state probes for Chaos Toolkit: run a livesite check now, from a zone, as its Result."""

from __future__ import annotations

from typing import Any

from livesite.chaostoolkit import resolve_config, run_sync
from livesite.config import load
from livesite.probe import ProbeService
from livesite.results import Result

__all__ = ["check_passes", "run_check"]


async def _run(config: str, check: str, zone: str | None) -> Result:
    loaded = load(resolve_config(config))
    spec = loaded.check(check)
    if spec is None:
        known = ", ".join(c.name for c in loaded.checks)
        raise ValueError(f"{config} has no check {check!r} (checks: {known})")
    probes = ProbeService(loaded)
    try:
        return await probes.probe(spec, zone or loaded.zones_for(spec)[0])
    finally:
        probes.close()


def run_check(config: str, check: str, zone: str | None = None) -> dict[str, Any]:
    """The check's Result as JSON (redacted like every Result): status, reason, timings, observation."""
    result = run_sync(_run(config, check, zone))
    found: dict[str, Any] = result.model_dump(mode="json")
    return found


def check_passes(config: str, check: str, zone: str | None = None) -> bool:
    """Whether the check passes now (ok or degraded): a tolerance of ``true`` makes it a hypothesis."""
    return bool(run_sync(_run(config, check, zone)).passed)
