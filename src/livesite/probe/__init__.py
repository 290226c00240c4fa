"""The probe service every pillar runs checks through: a scheduler of jobs added and removed live,
retries on network failures, and run contexts per zone and identity (see :mod:`.service`)."""

from livesite.probe.contexts import Contexts
from livesite.probe.job import Job, job_for, jobs_for, spread
from livesite.probe.retry import run_with_retries
from livesite.probe.scheduler import LAG_BUCKETS, LagRecorder, Schedulable, Scheduler
from livesite.probe.service import OnResult, ProbeService

__all__ = [
    "LAG_BUCKETS",
    "Contexts",
    "Job",
    "LagRecorder",
    "OnResult",
    "ProbeService",
    "Schedulable",
    "Scheduler",
    "job_for",
    "jobs_for",
    "run_with_retries",
    "spread",
]
