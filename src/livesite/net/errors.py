"""Why a network exchange failed, as a value the check kinds turn into a Failure."""

from __future__ import annotations

from livesite.results import FailureKind


class ProbeError(Exception):
    """A probe could not get a usable answer. ``kind`` says at which layer."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
