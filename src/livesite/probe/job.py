"""A probe job: which check runs where, as whom, and how often — resolved from the config's defaults."""

from __future__ import annotations

import zlib

from pydantic import BaseModel, ConfigDict, SerializeAsAny

from livesite.checks import ANONYMOUS, Identity
from livesite.config.models import CheckBase, Config, RetrySpec


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    check: SerializeAsAny[CheckBase]
    zone: str
    identity: Identity = ANONYMOUS
    interval_seconds: float
    offset_seconds: float  # first run after start; spreads checks over the interval
    timeout_seconds: float
    jitter_seconds: float = 0.0  # a random delay before each run, drawn from the scheduler's seeded generator
    retries: RetrySpec

    @property
    def key(self) -> tuple[str, ...]:
        """(check, zone), and the identity's key when the job runs as someone."""
        if self.identity.key:
            return (self.check.name, self.zone, self.identity.key)
        return (self.check.name, self.zone)


def spread(name: str, zone: str, interval: float) -> float:
    """A stable offset in [0, interval): the same check starts at the same phase after every restart,
    and many checks with one interval do not all fire at once (as Prometheus spreads scrapes)."""
    return (zlib.crc32(f"{name}\0{zone}".encode()) % 1_000_000) / 1_000_000 * interval


def job_for(
    config: Config,
    spec: CheckBase,
    zone: str,
    identity: Identity = ANONYMOUS,
    *,
    spread_start: bool = True,
) -> Job:
    """The job that runs ``spec`` in ``zone`` as ``identity`` on the check's schedule."""
    d = config.defaults
    interval = spec.interval or d.interval
    return Job(
        check=spec,
        zone=zone,
        identity=identity,
        interval_seconds=interval,
        offset_seconds=spread(spec.name, zone, interval) if spread_start else 0.0,
        timeout_seconds=spec.timeout or d.timeout,
        jitter_seconds=spec.jitter if spec.jitter is not None else d.jitter,
        retries=spec.retries or d.retries,
    )


def jobs_for(config: Config, spec: CheckBase, zone: str, *, spread_start: bool = True) -> list[Job]:
    """The jobs of ``spec`` in ``zone``: one, or one per cohort it runs as (``cohorts:``), each
    keyed by its cohort so every cohort keeps its own schedule and state."""
    cohorts = spec.cohort_names()
    if not cohorts:
        return [job_for(config, spec, zone, spread_start=spread_start)]
    return [job_for(config, spec, zone, Identity(cohort=c), spread_start=spread_start) for c in cohorts]
