"""What every source gives a judge: both sides' samples, in time order, as typed data."""

from __future__ import annotations

from typing import Protocol

from livesite.analysis.sides import ContinuousSides, CountSides, Sides
from livesite.analysis.verdict import Kind
from livesite.errors import LivesiteError

__all__ = ["ContinuousSides", "CountSides", "Sides", "Source", "SourceError", "SourceUnavailable"]


class Source(Protocol):
    """Where samples come from: the results store, router statistics, Prometheus.

    ``fetch`` does the I/O and nothing else; the judge that follows is pure.
    """

    async def fetch(self, kind: Kind) -> Sides:
        """Both sides' samples of ``kind``. Raises :class:`SourceError` when the source cannot
        give them (unreachable, a bad query, a kind this source was not set up for)."""
        ...


class SourceError(LivesiteError):
    """A source cannot give samples: a query it refuses, an answer it cannot read. Exit 3."""


class SourceUnavailable(SourceError):
    """A source's server cannot be reached now; the same command may work later. Exit 4."""

    exit_code = 4
