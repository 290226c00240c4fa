"""Production checks, continuously: schedule, retry, damp flapping, store, expose."""

from livesite.monitor.once import run_once
from livesite.monitor.plan import Job, Plan, plan
from livesite.monitor.service import CheckStatus, Monitor

__all__ = ["CheckStatus", "Job", "Monitor", "Plan", "plan", "run_once"]
