"""Judges: samples in, a :class:`Verdict` out — pure functions shared by rollouts and chaos.

``judge(baseline, canary, kind="continuous" | "counts", direction=...)`` picks the rank test
(latencies: Mann-Whitney with a Hodges–Lehmann shift, corrected for autocorrelation) or the rate
test (errors out of requests: exact conditional binomial against a minimum rate ratio).
:func:`judge_threshold` holds one side to ``p99 < 300ms`` or ``error_rate < 1%``;
:func:`judge_sequential` is the anytime-valid rate test a rollout may consult at every step.
Sources (``livesite.analysis.sources``) do the I/O: the results store, router statistics and
Prometheus each give a :class:`Sides` for :func:`judge_sides`.
"""

from livesite.analysis.continuous import RankSpec, judge_continuous
from livesite.analysis.counts import RateSpec, judge_counts
from livesite.analysis.judge import judge, judge_sides
from livesite.analysis.sequential import SequentialSpec, judge_sequential
from livesite.analysis.sides import ContinuousSides, CountSides, Sides
from livesite.analysis.thresholds import Threshold, judge_threshold
from livesite.analysis.verdict import (
    AppliedThreshold,
    Count,
    Direction,
    Effect,
    Kind,
    Outcome,
    SamplesUsed,
    Verdict,
)

__all__ = [
    "AppliedThreshold",
    "ContinuousSides",
    "Count",
    "CountSides",
    "Direction",
    "Effect",
    "Kind",
    "Outcome",
    "RankSpec",
    "RateSpec",
    "SamplesUsed",
    "SequentialSpec",
    "Sides",
    "Threshold",
    "Verdict",
    "judge",
    "judge_continuous",
    "judge_counts",
    "judge_sequential",
    "judge_sides",
    "judge_threshold",
]
