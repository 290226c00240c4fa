"""The rank judge for continuous samples (latencies): Mann-Whitney with a Hodges–Lehmann shift,
an effect-size floor, and a variance correction for autocorrelated time series."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from livesite.analysis.numeric import median
from livesite.analysis.ranks import Alternative, average_ranks, rank_inflation, rank_sum, shift_interval
from livesite.analysis.verdict import AppliedThreshold, Direction, Effect, SamplesUsed, Verdict

_ALTERNATIVE: dict[Direction, Alternative] = {
    "increase": "greater",
    "decrease": "less",
    "either": "two-sided",
}
_TEST = "Mann-Whitney U, Hodges-Lehmann shift"


class RankSpec(BaseModel):
    """How strict the rank judge is. The defaults hold the A/A false-alarm rate under 1% on both
    independent and AR(1) φ = 0.7 series (``livesite analyze --calibrate``, docs/analysis.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(default=0.005, gt=0, lt=0.5)  # for "either": both tails together
    min_relative_shift: float = Field(default=0.01, ge=0)  # of the baseline's median
    min_absolute_shift: float = Field(default=0.0, ge=0)  # in the samples' unit (seconds)
    min_samples: int = Field(default=10, ge=2)  # per side, before anything is said
    min_effective_samples: float = Field(default=8.0, gt=0)  # per side, after the autocorrelation correction
    # Autocorrelation: "correct" inflates Var(U) by the rank series' long-run variance; "ignore"
    # treats points as independent (Kayenta's assumption: use it only for request-level samples).
    autocorrelation: Literal["correct", "ignore"] = "correct"
    # Standard errors added to the estimated autocorrelation (see ranks.rank_inflation).
    autocorrelation_margin: float = Field(default=0.75, ge=0)


def judge_continuous(
    baseline: Sequence[float], canary: Sequence[float], direction: Direction, spec: RankSpec
) -> Verdict:
    """Judge whether the canary's samples moved in the bad ``direction`` against the baseline's.

    Raises:
        ValueError: a sample is not a finite number.
    """
    b, c = _finite(baseline, "baseline"), _finite(canary, "canary")
    m, n = len(b), len(c)
    floor = AppliedThreshold(name="min samples per side", value=spec.min_samples, observed=min(m, n))
    if min(m, n) < spec.min_samples:
        return _no_data(
            direction,
            spec,
            m,
            n,
            floor.model_copy(update={"crossed": True}),
            f"too few samples: baseline {m}, canary {n}; need {spec.min_samples} per side",
        )
    ranked = average_ranks([*b, *c])
    if spec.autocorrelation == "correct":
        rho, inflation = rank_inflation(b, c, spec.autocorrelation_margin, ranked)
    else:
        rho, inflation = None, 1.0
    samples = SamplesUsed(
        n_baseline=m,
        n_canary=n,
        effective_n_baseline=m / inflation,
        effective_n_canary=n / inflation,
        lag1_autocorrelation=rho,
        variance_inflation=inflation,
    )
    effective = min(m, n) / inflation
    enough = AppliedThreshold(
        name="min effective samples per side",
        value=spec.min_effective_samples,
        observed=effective,
        crossed=effective < spec.min_effective_samples,
    )
    if effective < spec.min_effective_samples:
        return Verdict(
            outcome="inconclusive",
            kind="continuous",
            direction=direction,
            test=_TEST,
            alpha=spec.alpha,
            samples=samples,
            thresholds=(floor.model_copy(update={"crossed": False}), enough),
            reason=(
                f"the series are so autocorrelated (lag-1 {rho:.2f}) that {min(m, n)} samples count as "
                f"{effective:.1f}; need {spec.min_effective_samples:g} per side: collect for longer"
                if inflation > 1.0 and rho is not None
                else f"{min(m, n)} samples per side; need {spec.min_effective_samples:g}: collect for longer"
            ),
        )
    test = rank_sum(b, c, _ALTERNATIVE[direction], inflation, ranked)
    # The interval whose bound matches the test: one-sided alpha ↔ two-sided 1 − 2·alpha.
    confidence = 1.0 - (spec.alpha if direction == "either" else 2.0 * spec.alpha)
    shift = shift_interval(b, c, confidence, test.sd_u)
    scale = abs(median(b))
    relative = _relative(shift.estimate, scale)
    bad_relative = {"increase": relative, "decrease": -relative, "either": abs(relative)}[direction]
    bad_absolute = {"increase": shift.estimate, "decrease": -shift.estimate, "either": abs(shift.estimate)}[
        direction
    ]
    significant = test.p_value < spec.alpha
    big = bad_relative >= spec.min_relative_shift and bad_absolute >= spec.min_absolute_shift
    thresholds = (
        floor.model_copy(update={"crossed": False}),
        enough,
        AppliedThreshold(name="alpha", value=spec.alpha, observed=test.p_value, crossed=significant),
        AppliedThreshold(
            name="min relative shift",
            value=spec.min_relative_shift,
            observed=bad_relative,
            crossed=bad_relative >= spec.min_relative_shift,
        ),
        AppliedThreshold(
            name="min absolute shift",
            value=spec.min_absolute_shift,
            observed=bad_absolute,
            crossed=bad_absolute >= spec.min_absolute_shift,
        ),
    )
    effect = Effect(
        name="relative shift",
        estimate=relative,
        low=None if shift.low is None else _relative(shift.low, scale),
        high=None if shift.high is None else _relative(shift.high, scale),
        confidence=confidence,
    )
    moved = f"the canary shifted {relative:+.1%} of the baseline's median ({shift.estimate:+.4g})"
    if significant and big:
        outcome, reason = "fail", f"{moved}, p = {test.p_value:.2g} < {spec.alpha:g}"
    elif significant:
        outcome = "pass"
        reason = f"{moved}: significant (p = {test.p_value:.2g}) but under the floor of {spec.min_relative_shift:.1%}"
    else:
        outcome = "pass"
        reason = f"no significant {_WORD[direction]}: {moved}, p = {test.p_value:.2g} >= {spec.alpha:g}"
    return Verdict(
        outcome=outcome,
        kind="continuous",
        direction=direction,
        test=_TEST + (" (exact)" if test.exact else " (normal approx., tie and continuity corrected)"),
        statistic_name="U" if test.exact else "z",
        statistic=test.u if test.exact else test.z,
        p_value=test.p_value,
        alpha=spec.alpha,
        effect=effect,
        samples=samples,
        thresholds=thresholds,
        reason=reason,
    )


_WORD: dict[Direction, str] = {"increase": "increase", "decrease": "decrease", "either": "change"}


def _relative(value: float, scale: float) -> float:
    if scale > 0:
        return value / scale
    return 0.0 if value == 0 else math.copysign(math.inf, value)


def _finite(values: Sequence[float], side: str) -> list[float]:
    out = [float(v) for v in values]
    for i, v in enumerate(out):
        if not math.isfinite(v):
            raise ValueError(f"{side} sample {i + 1} is {v}: every sample must be a finite number")
    return out


def _no_data(
    direction: Direction, spec: RankSpec, m: int, n: int, floor: AppliedThreshold, reason: str
) -> Verdict:
    return Verdict(
        outcome="inconclusive",
        kind="continuous",
        direction=direction,
        test=_TEST,
        alpha=spec.alpha,
        samples=SamplesUsed(n_baseline=m, n_canary=n, effective_n_baseline=m, effective_n_canary=n),
        thresholds=(floor,),
        reason=reason,
    )
