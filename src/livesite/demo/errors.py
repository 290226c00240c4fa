"""Errors of the demo production.

LivesiteError (livesite.errors, when present)
└── DemoError            the demo cannot do what you asked (exit code 3)
    ├── DefectError      an unknown or malformed defect name (exit code 2)
    ├── DemoRunning      a demo already runs in this state directory (exit code 2)
    └── DemoNotRunning   no demo runs in this state directory (exit code 2)
"""

from __future__ import annotations

try:  # the shared root arrives with livesite.errors; until then the demo stands alone
    from livesite.errors import LivesiteError as _Root  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - depends on the rest of the tree

    class _Root(Exception):  # type: ignore[no-redef]
        exit_code: int = 3
        hint: str | None = None


class DemoError(_Root):
    """The demo production cannot do what was asked; the message says what, `hint` says what to do."""

    exit_code: int = 3

    def __init__(self, message: str, hint: str | None = None) -> None:
        Exception.__init__(self, message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\nhint: {self.hint}"


class DefectError(DemoError):
    """A defect name is unknown or its parameter is malformed."""

    exit_code = 2


class DemoRunning(DemoError):
    """A demo is already running in the state directory."""

    exit_code = 2


class DemoNotRunning(DemoError):
    """No demo runs in the state directory."""

    exit_code = 2
