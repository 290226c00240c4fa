"""What a judge answers: a :class:`Verdict` that carries its own explanation.

A Verdict is data, not a log line: the test that was run, its statistic and p-value (or the bound
it was held to), the effect size with its interval, how many samples each side gave and how many
of them counted after correcting for autocorrelation, every threshold that was applied and whether
it was met, and one sentence a person can act on. "No data" is an outcome (``inconclusive``), never
an exception and never a pass.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict

Outcome = Literal["pass", "fail", "inconclusive"]
Kind = Literal["continuous", "counts"]
# Which change is bad: "increase" (latency, errors), "decrease" (throughput, conversions), or "either".
Direction = Literal["increase", "decrease", "either"]
# One interval's count: (events, trials), e.g. (errors, requests).
Count = tuple[int, int]
# JSON has no infinity, and a rate ratio over a baseline without errors is unbounded: write it as
# the string "Infinity", which reads back as a float, rather than null, which would lose it.
_MODEL = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="strings")


class Effect(BaseModel):
    """How big the change is, in the judge's own unit, with its confidence interval."""

    model_config = _MODEL

    name: str  # "relative shift" (Hodges–Lehmann / baseline median) or "rate ratio"
    estimate: float
    low: float | None = None  # None: the data cannot bound it on this side
    high: float | None = None
    confidence: float | None = None  # of the interval, e.g. 0.98


class SamplesUsed(BaseModel):
    """How much data each side gave, and how much of it counted.

    For continuous samples, ``effective_*`` is the sample size after correcting for autocorrelation
    (n divided by the variance inflation of the rank series); for counts it is the trials after
    correcting for over-dispersion. ``*_events``/``*_trials`` are set for counts only.
    """

    model_config = _MODEL

    n_baseline: int
    n_canary: int
    effective_n_baseline: float
    effective_n_canary: float
    lag1_autocorrelation: float | None = None
    variance_inflation: float | None = None
    baseline_events: int | None = None
    baseline_trials: int | None = None
    canary_events: int | None = None
    canary_trials: int | None = None


class AppliedThreshold(BaseModel):
    """One threshold the judge held the data to, and whether the data crossed it.

    ``crossed`` is True when the data went past it on the bad side: a p-value below alpha, an
    effect beyond its floor, ``p99`` above ``p99 < 300ms``'s limit, or too few samples. A fail needs
    every fail rule crossed. None when the judge never got that far (no data).
    """

    model_config = _MODEL

    name: str  # e.g. "alpha", "min relative shift", "min samples per side", "p99 < 300ms"
    value: float
    observed: float | None = None
    crossed: bool | None = None


class Verdict(BaseModel):
    """A judge's answer, explained. ``reason`` is one sentence a person can act on."""

    model_config = _MODEL

    outcome: Outcome
    kind: Kind
    direction: Direction
    test: str
    statistic_name: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    bound: float | None = None  # what the statistic was held to when there is no p-value (e-value 1/alpha)
    alpha: float
    effect: Effect | None = None
    samples: SamplesUsed
    thresholds: tuple[AppliedThreshold, ...] = ()
    reason: str

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"

    def explain(self) -> list[str]:
        """The Verdict as short lines for a terminal or a log: outcome first, then the evidence."""
        lines = [f"{self.outcome.upper()}: {self.reason}", f"test: {self.test}"]
        if self.statistic is not None:
            stat = f"{self.statistic_name or 'statistic'} = {self.statistic:.4g}"
            if self.p_value is not None:
                stat += f", p = {self.p_value:.3g} (alpha {self.alpha:g})"
            elif self.bound is not None:
                stat += f", bound {self.bound:.4g}"
            lines.append(stat)
        if self.effect is not None:
            e = self.effect
            text = f"effect: {e.name} {_num(e.estimate)}"
            if e.confidence is not None:
                text += f", {e.confidence:.0%} interval [{_num(e.low)}, {_num(e.high)}]"
            lines.append(text)
        s = self.samples
        used = f"samples: baseline {s.n_baseline}, canary {s.n_canary}"
        if self.kind == "continuous":
            used += f"; effective {s.effective_n_baseline:.1f} / {s.effective_n_canary:.1f}"
            if s.lag1_autocorrelation is not None:
                used += f" (lag-1 autocorrelation {s.lag1_autocorrelation:.2f}"
                used += f", variance x{s.variance_inflation:.2f})" if s.variance_inflation else ")"
        elif s.canary_trials is not None:
            canary = f"{s.canary_events}/{s.canary_trials}"
            baseline = f"{s.baseline_events}/{s.baseline_trials}" if s.baseline_trials is not None else None
            used += f"; events {baseline} vs {canary}" if baseline else f"; canary events {canary}"
        lines.append(used)
        for t in self.thresholds:
            seen = "" if t.observed is None else f", observed {_num(t.observed)}"
            crossed = {True: "crossed", False: "not crossed", None: "not reached"}[t.crossed]
            lines.append(f"threshold: {t.name} (limit {_num(t.value)}){seen} -> {crossed}")
        return lines


def _num(value: float | None) -> str:
    if value is None:
        return "unbounded"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"
