"""Threshold judges on one side's samples: ``error_rate < 1%``, ``p99 < 300ms``, ``mean <= 0.2s``.

Parsed once into a typed :class:`Threshold` (a config's thresholds are refused at load, never
halfway through a rollout), then evaluated purely. Statistics: ``mean``, ``pNN`` / ``pNN.N`` (the
NN-th percentile, interpolated) and ``median`` on continuous samples in seconds; ``error_rate`` on
counts. Units: ``ms``, ``s``, ``us`` for time, ``%`` or a plain fraction for rates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from livesite.analysis.numeric import quantile
from livesite.analysis.verdict import AppliedThreshold, Count, SamplesUsed, Verdict

Comparison = Literal["<", "<=", ">", ">="]

_PATTERN = re.compile(
    r"^\s*(?P<stat>error_rate|mean|median|p\d{1,2}(?:\.\d+)?)\s*(?P<op><=|>=|<|>)\s*"
    r"(?P<value>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>ms|us|s|%)?\s*$"
)
_SCALE = {"ms": 1e-3, "us": 1e-6, "s": 1.0, "%": 0.01, None: 1.0}


class Threshold(BaseModel):
    """One limit on one statistic; ``limit`` is in seconds for time and a fraction for rates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    statistic: str = Field(pattern=r"^(error_rate|mean|median|p\d{1,2}(\.\d+)?)$")
    comparison: Comparison
    limit: float
    text: str  # as the user wrote it, for explanations

    @property
    def on_counts(self) -> bool:
        return self.statistic == "error_rate"

    @classmethod
    def parse(cls, text: str) -> Threshold:
        """Parse ``p99 < 300ms``; raises ValueError naming what is wrong and what would be right."""
        found = _PATTERN.match(text)
        if found is None:
            raise ValueError(
                f"cannot read the threshold {text!r}: write STATISTIC OP VALUE[UNIT], e.g. "
                "'p99 < 300ms', 'mean <= 0.2s', 'error_rate < 1%' (statistics: error_rate, mean, median, pNN)"
            )
        stat, unit = found["stat"], found["unit"]
        if stat == "error_rate" and unit not in (None, "%"):
            raise ValueError(f"{text!r}: an error rate is a fraction or a percentage, not {unit}")
        if stat != "error_rate" and unit == "%":
            raise ValueError(f"{text!r}: {stat} is a duration: give it in ms, s or us")
        if stat.startswith("p") and not 0 < float(stat[1:]) < 100:
            raise ValueError(f"{text!r}: a percentile is between p0 and p100 exclusive")
        limit = float(found["value"]) * _SCALE[unit]
        return cls(statistic=stat, comparison=found["op"], limit=limit, text=text.strip())


def observe(threshold: Threshold, samples: Sequence[float] | Sequence[Count]) -> float | None:
    """The statistic the threshold limits, from one side's samples; None with no data."""
    if not samples:
        return None
    if threshold.on_counts:
        counts = [s for s in samples if isinstance(s, tuple)]
        trials = sum(t for _, t in counts)
        return sum(e for e, _ in counts) / trials if trials else None
    values = [float(s) for s in samples if not isinstance(s, tuple)]
    if threshold.statistic == "mean":
        return math.fsum(values) / len(values)
    if threshold.statistic == "median":
        return quantile(values, 0.5)
    return quantile(values, float(threshold.statistic[1:]) / 100.0)


def judge_threshold(
    threshold: Threshold, samples: Sequence[float] | Sequence[Count], min_samples: int = 1
) -> Verdict:
    """Whether one side's samples keep within ``threshold``; no data is inconclusive, never a pass.

    Raises:
        ValueError: counts given to a latency threshold, or latencies to ``error_rate``.
    """
    kinds = {isinstance(s, tuple) for s in samples}
    if kinds and kinds != {threshold.on_counts}:
        wanted = "(events, trials) counts" if threshold.on_counts else "continuous samples"
        raise ValueError(f"{threshold.text!r} needs {wanted}")
    kind = "counts" if threshold.on_counts else "continuous"
    n = len(samples)
    observed = observe(threshold, samples) if n >= min_samples else None
    pairs = [x for x in samples if isinstance(x, tuple)]
    used = SamplesUsed(
        n_baseline=0,
        n_canary=n,
        effective_n_baseline=0,
        effective_n_canary=n,
        canary_events=sum(e for e, _ in pairs) if threshold.on_counts else None,
        canary_trials=sum(t for _, t in pairs) if threshold.on_counts else None,
    )
    if observed is None:
        return Verdict(
            outcome="inconclusive",
            kind=kind,
            direction="either",
            test=f"threshold {threshold.text}",
            alpha=0.0,
            samples=used,
            thresholds=(AppliedThreshold(name=threshold.text, value=threshold.limit),),
            reason=f"no data to hold to {threshold.text} ({n} samples, need {min_samples})",
        )
    holds = {
        "<": observed < threshold.limit,
        "<=": observed <= threshold.limit,
        ">": observed > threshold.limit,
        ">=": observed >= threshold.limit,
    }[threshold.comparison]
    shown = _show(threshold, observed)
    return Verdict(
        outcome="pass" if holds else "fail",
        kind=kind,
        direction="either",
        test=f"threshold {threshold.text}",
        statistic_name=threshold.statistic,
        statistic=observed,
        bound=threshold.limit,
        alpha=0.0,
        samples=used,
        thresholds=(
            AppliedThreshold(
                name=threshold.text, value=threshold.limit, observed=observed, crossed=not holds
            ),
        ),
        reason=f"{threshold.statistic} is {shown}: {'within' if holds else 'breaks'} {threshold.text}",
    )


def _show(threshold: Threshold, value: float) -> str:
    if threshold.on_counts:
        return f"{value:.3%}"
    return f"{value * 1000:.4g}ms"
