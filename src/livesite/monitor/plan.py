"""What the monitor will run: one job per (check, zone), with its schedule resolved from defaults.

Built before anything runs, so ``--dry-run`` can print it and a bad selection fails early.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from livesite.config.models import Config
from livesite.errors import UsageError
from livesite.probe import Job, jobs_for


class MonitorJob(Job):
    """A probe job plus how many results in a row change the check's state (flap damping)."""

    failure_threshold: int
    success_threshold: int


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    jobs: list[MonitorJob]

    def checks(self) -> list[str]:
        return sorted({j.check.name for j in self.jobs})


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
            for job in jobs_for(config, spec, zone, spread_start=spread_start):
                jobs.append(
                    MonitorJob(
                        **dict(job),
                        failure_threshold=spec.failure_threshold or d.failure_threshold,
                        success_threshold=spec.success_threshold or d.success_threshold,
                    )
                )
    return Plan(jobs=jobs)
