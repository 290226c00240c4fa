"""What every source gives a judge: both sides' samples, in time order, as typed data."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from livesite.analysis.verdict import Count, Kind
from livesite.errors import LivesiteError


class ContinuousSides(BaseModel):
    """Latencies (seconds) or any other measurement, oldest first, for each side."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["continuous"] = "continuous"
    baseline: tuple[float, ...]
    canary: tuple[float, ...]


class CountSides(BaseModel):
    """(events, trials) per interval, oldest first, for each side; interval i is the same on both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["counts"] = "counts"
    baseline: tuple[Count, ...]
    canary: tuple[Count, ...]


Sides = ContinuousSides | CountSides


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
