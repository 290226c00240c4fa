"""Both sides' samples as one typed value: what a source gives and :func:`judge_sides` takes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from livesite.analysis.verdict import Count


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
