"""What the monitor will run: one job per (check, zone), with its schedule resolved from defaults.

Built before anything runs, so ``--dry-run`` can print it and a bad selection fails early.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from livesite.config.models import CheckSpec, Config, RetrySpec
from livesite.errors import UsageError


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    check: CheckSpec
    zone: str
    interval_seconds: float
    offset_seconds: float  # first run after start; spreads checks over the interval
    timeout_seconds: float
    jitter_seconds: float = 0.0  # a random delay before each run, drawn from the scheduler's seeded generator
    retries: RetrySpec
    failure_threshold: int
    success_threshold: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.check.name, self.zone)


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    jobs: list[Job]

    def checks(self) -> list[str]:
        return sorted({j.check.name for j in self.jobs})


def spread(name: str, zone: str, interval: float) -> float:
    """A stable offset in [0, interval): the same check starts at the same phase after every restart,
    and many checks with one interval do not all fire at once (as Prometheus spreads scrapes)."""
    return (zlib.crc32(f"{name}\0{zone}".encode()) % 1_000_000) / 1_000_000 * interval


def plan(
    config: Config, checks: Sequence[str] = (), zones: Sequence[str] = (), *, spread_start: bool = True
) -> Plan:
    """Resolve which (check, zone) pairs run and how.

    Raises:
        UsageError: a named check or zone does not exist.
    """
    known_checks = {c.name for c in config.checks}
    for name in checks:
        if name not in known_checks:
            raise UsageError(
                f"no check named {name!r}", hint=f"checks: {', '.join(sorted(known_checks)) or 'none'}"
            )
    known_zones = set(config.zone_names())
    for zone in zones:
        if zone not in known_zones:
            raise UsageError(f"no zone named {zone!r}", hint=f"zones: {', '.join(sorted(known_zones))}")
    d = config.defaults
    jobs = []
    for spec in config.checks:
        if not spec.enabled or (checks and spec.name not in checks):
            continue
        for zone in config.zones_for(spec):
            if zones and zone not in zones:
                continue
            interval = spec.interval or d.interval
            jobs.append(
                Job(
                    check=spec,
                    zone=zone,
                    interval_seconds=interval,
                    offset_seconds=spread(spec.name, zone, interval) if spread_start else 0.0,
                    timeout_seconds=spec.timeout or d.timeout,
                    jitter_seconds=spec.jitter if spec.jitter is not None else d.jitter,
                    retries=spec.retries or d.retries,
                    failure_threshold=spec.failure_threshold or d.failure_threshold,
                    success_threshold=spec.success_threshold or d.success_threshold,
                )
            )
    return Plan(jobs=jobs)
