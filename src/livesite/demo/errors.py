"""Errors of the demo production, below the shared `livesite.errors.DemoError`.

    LivesiteError
    └── DemoError            the demo cannot do what you asked (exit code 3)
        ├── DefectError      an unknown or malformed defect name (exit code 2)
        ├── DemoRunning      a demo already runs in this state directory (exit code 2)
        └── DemoNotRunning   no demo runs in this state directory (exit code 2)

Every one carries `message` and `hint` (what to do), passed as `DemoError(message, hint=...)`.
"""

from __future__ import annotations

from livesite.errors import DemoError


class DefectError(DemoError):
    """A defect name is unknown or its parameter is malformed."""

    exit_code = 2


class DemoRunning(DemoError):
    """A demo is already running in the state directory."""

    exit_code = 2


class DemoNotRunning(DemoError):
    """No demo runs in the state directory."""

    exit_code = 2


__all__ = ["DefectError", "DemoError", "DemoNotRunning", "DemoRunning"]
