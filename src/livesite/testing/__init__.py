"""The test kit livesite ships: a fake clock, a target server with faults you control, conformance suites."""

from livesite.testing.clock import FakeClock

__all__ = ["FakeClock"]
