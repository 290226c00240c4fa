"""Production checks, continuously: a client of the probe service that damps flapping, stores, exposes."""

from livesite.monitor.once import run_once
from livesite.monitor.plan import MonitorJob, Plan, plan
from livesite.monitor.service import CheckStatus, Monitor

__all__ = ["CheckStatus", "Monitor", "MonitorJob", "Plan", "plan", "run_once"]
