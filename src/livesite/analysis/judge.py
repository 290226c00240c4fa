"""The one entry point: ``judge(baseline, canary, kind=..., direction=...) -> Verdict``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

from livesite.analysis.continuous import RankSpec, judge_continuous
from livesite.analysis.counts import RateSpec, judge_counts
from livesite.analysis.sides import ContinuousSides, Sides
from livesite.analysis.verdict import Count, Direction, Kind, Verdict


@overload
def judge(
    baseline: Sequence[float],
    canary: Sequence[float],
    kind: Kind = ...,
    direction: Direction = ...,
    *,
    spec: RankSpec | None = ...,
) -> Verdict: ...
@overload
def judge(
    baseline: Sequence[Count],
    canary: Sequence[Count],
    kind: Kind = ...,
    direction: Direction = ...,
    *,
    spec: RateSpec | None = ...,
) -> Verdict: ...
def judge(
    baseline: Sequence[float] | Sequence[Count],
    canary: Sequence[float] | Sequence[Count],
    kind: Kind = "continuous",
    direction: Direction = "increase",
    *,
    spec: RankSpec | RateSpec | None = None,
) -> Verdict:
    """Compare the canary's samples with the baseline's; a pure function.

    ``continuous``: sequences of floats in time order (latencies in seconds), judged by the rank
    test (:class:`RankSpec`). ``counts``: sequences of ``(events, trials)`` per interval (errors out
    of requests), judged by the rate test (:class:`RateSpec`). ``direction`` says which change is
    bad. Too little data is an ``inconclusive`` Verdict, never a pass and never an exception.

    Raises:
        ValueError: malformed samples (a NaN, a count with more events than trials), or a ``spec``
            for the other kind.
    """
    if kind == "continuous":
        if spec is not None and not isinstance(spec, RankSpec):
            raise ValueError("kind 'continuous' takes a RankSpec")
        if any(isinstance(v, tuple) for v in (*baseline, *canary)):
            raise ValueError("kind 'continuous' takes numbers; (events, trials) pairs are kind 'counts'")
        return judge_continuous(baseline, canary, direction, spec or RankSpec())  # type: ignore[arg-type]
    if spec is not None and not isinstance(spec, RateSpec):
        raise ValueError("kind 'counts' takes a RateSpec")
    return judge_counts(baseline, canary, direction, spec or RateSpec())  # type: ignore[arg-type]


def judge_sides(
    sides: Sides, direction: Direction = "increase", *, spec: RankSpec | RateSpec | None = None
) -> Verdict:
    """:func:`judge` what a source fetched: the rank test for :class:`ContinuousSides`, the rate
    test for :class:`CountSides` (chosen by the type, never by a string)."""
    if isinstance(sides, ContinuousSides):
        if spec is not None and not isinstance(spec, RankSpec):
            raise ValueError("continuous samples take a RankSpec")
        return judge_continuous(sides.baseline, sides.canary, direction, spec or RankSpec())
    if spec is not None and not isinstance(spec, RateSpec):
        raise ValueError("counts take a RateSpec")
    return judge_counts(sides.baseline, sides.canary, direction, spec or RateSpec())
