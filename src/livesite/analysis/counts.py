"""The rate judge for counts (errors out of requests): an exact conditional binomial test of the
rate ratio against a minimum effect, which catches sparse errors that a rank test misses.

Given both sides' events, the canary's share of them is binomial under equal Poisson rates:
``E_c | E ~ Binomial(E, T_c / (T_c + T_b))``. Testing against a ratio ρ₀ ≥ 1 instead of 1
(``min_rate_ratio``) means a trivially small increase on huge traffic does not fail, and the test
stays valid (a null of "at most ρ₀" is tested exactly). Three errors against none is not evidence;
eighteen against none is, whatever a rank test on per-interval counts says (Kayenta: 0.2% detection).

Bursty errors make counts over-dispersed, which an exact binomial test would read as evidence.
When the per-interval counts are significantly more spread out than binomial (Pearson's χ²), the
counts are divided by the dispersion φ before testing (quasi-Poisson), so fifty errors in one
burst weigh as much as fifty/φ independent ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from livesite.analysis.numeric import beta_quantile, binomial_cdf, binomial_sf, chi2_sf_approx
from livesite.analysis.verdict import AppliedThreshold, Count, Direction, Effect, SamplesUsed, Verdict

_TEST = "conditional binomial rate-ratio test (exact)"


class RateSpec(BaseModel):
    """How strict the rate judge is; the defaults are documented in docs/analysis.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(default=0.005, gt=0, lt=0.5)  # for "either": both tails together
    # The null hypothesis is "the canary's rate is at most this many times the baseline's".
    min_rate_ratio: float = Field(default=1.2, ge=1.0)
    # And a fail also needs the canary's rate this much above the baseline's (0.0001 = 0.01 points).
    min_rate_difference: float = Field(default=0.0001, ge=0)
    min_trials: int = Field(default=100, ge=1)  # per side, before a pass means anything
    dispersion_alpha: float = Field(default=0.01, gt=0, lt=1)  # evidence needed to correct for bursts


def judge_counts(
    baseline: Sequence[Count], canary: Sequence[Count], direction: Direction, spec: RateSpec
) -> Verdict:
    """Judge whether the canary's event rate moved in the bad ``direction`` against the baseline's.

    Raises:
        ValueError: a count is negative, not an integer, or has more events than trials.
    """
    b, c = _checked(baseline, "baseline"), _checked(canary, "canary")
    eb, tb = sum(e for e, _ in b), sum(t for _, t in b)
    ec, tc = sum(e for e, _ in c), sum(t for _, t in c)
    enough = AppliedThreshold(name="min trials per side", value=spec.min_trials, observed=min(tb, tc))
    if min(tb, tc) < spec.min_trials:
        return Verdict(
            outcome="inconclusive",
            kind="counts",
            direction=direction,
            test=_TEST,
            alpha=spec.alpha,
            samples=_used(b, c, eb, tb, ec, tc, 1.0),
            thresholds=(enough.model_copy(update={"crossed": True}),),
            reason=f"too few trials: baseline {tb}, canary {tc}; need {spec.min_trials} per side",
        )
    phi = _dispersion(b, c, spec.dispersion_alpha)
    # Quasi-Poisson: φ times fewer effective events and trials.
    xc, total = ec / phi, (eb + ec) / phi
    wb, wc = tb / phi, tc / phi
    rho0 = spec.min_rate_ratio
    p_up = binomial_sf(xc, total, rho0 * wc / (rho0 * wc + wb)) if total > 0 else 1.0
    p_down = binomial_cdf(xc, total, wc / (wc + rho0 * wb)) if total > 0 else 1.0
    p = {"increase": p_up, "decrease": p_down, "either": min(1.0, 2.0 * min(p_up, p_down))}[direction]
    rate_b, rate_c = eb / tb, ec / tc
    difference = rate_c - rate_b
    bad_difference = {"increase": difference, "decrease": -difference, "either": abs(difference)}[direction]
    confidence = 1.0 - (spec.alpha if direction == "either" else 2.0 * spec.alpha)
    effect = _ratio_interval(xc, total, wb, wc, rate_b, rate_c, confidence)
    significant = p < spec.alpha
    big = bad_difference >= spec.min_rate_difference
    thresholds = (
        enough.model_copy(update={"crossed": False}),
        AppliedThreshold(name="alpha", value=spec.alpha, observed=p, crossed=significant),
        AppliedThreshold(
            name="min rate ratio (the null tested)",
            value=rho0,
            observed=effect.estimate,
            crossed={
                "increase": effect.estimate > rho0,
                "decrease": effect.estimate < 1.0 / rho0,
                "either": effect.estimate > rho0 or effect.estimate < 1.0 / rho0,
            }[direction],
        ),
        AppliedThreshold(
            name="min rate difference", value=spec.min_rate_difference, observed=bad_difference, crossed=big
        ),
    )
    moved = f"canary {ec}/{tc} ({rate_c:.3%}) vs baseline {eb}/{tb} ({rate_b:.3%})"
    if significant and big:
        outcome, reason = "fail", f"{moved}: more than {rho0:g}x the baseline's rate, p = {p:.2g}"
        if direction == "decrease" or (direction == "either" and difference < 0):
            reason = f"{moved}: less than 1/{rho0:g} of the baseline's rate, p = {p:.2g}"
    elif significant:
        outcome = "pass"
        reason = f"{moved}: significant but under the floor of {spec.min_rate_difference:.3%} points"
    else:
        outcome, reason = "pass", f"{moved}: no significant change beyond {rho0:g}x, p = {p:.2g}"
    if phi > 1.0:
        reason += f" (bursty: counts weighed 1/{phi:.2f})"
    return Verdict(
        outcome=outcome,
        kind="counts",
        direction=direction,
        test=_TEST + (f", over-dispersion {phi:.2f} corrected" if phi > 1.0 else ""),
        statistic_name="canary events",
        statistic=float(ec),
        p_value=p,
        alpha=spec.alpha,
        effect=effect,
        samples=_used(b, c, eb, tb, ec, tc, phi),
        thresholds=thresholds,
        reason=reason,
    )


def _checked(counts: Sequence[Count], side: str) -> list[Count]:
    out: list[Count] = []
    for i, pair in enumerate(counts):
        try:
            events, trials = pair
        except (TypeError, ValueError):
            raise ValueError(f"{side} interval {i + 1} is {pair!r}: give (events, trials)") from None
        for what, value in (("events", events), ("trials", trials)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{side} interval {i + 1}: {what} {value!r} must be a whole number >= 0")
        if events > trials:
            raise ValueError(f"{side} interval {i + 1}: {events} events out of {trials} trials")
        out.append((events, trials))
    return out


def _dispersion(b: list[Count], c: list[Count], alpha: float) -> float:
    """φ = Pearson χ² / df around each side's own rate, when χ² says the counts are over-dispersed."""
    chi2, df = 0.0, -2
    for side in (b, c):
        events, trials = sum(e for e, _ in side), sum(t for _, t in side)
        if trials == 0:
            continue
        rate = events / trials
        for e, t in side:
            if t == 0:
                continue
            df += 1
            expected = rate * t * (1.0 - rate)
            if expected > 0:
                chi2 += (e - rate * t) ** 2 / expected
    if df < 3 or chi2 <= df or chi2_sf_approx(chi2, df) >= alpha:
        return 1.0
    return chi2 / df


def _ratio_interval(
    xc: float, total: float, wb: float, wc: float, rate_b: float, rate_c: float, confidence: float
) -> Effect:
    """The rate ratio and its Clopper–Pearson interval, from the canary's share of all events."""
    estimate = rate_c / rate_b if rate_b > 0 else (math.inf if rate_c > 0 else 1.0)
    if total <= 0:
        return Effect(name="rate ratio", estimate=estimate, confidence=confidence)
    tail = (1.0 - confidence) / 2.0
    low_share = beta_quantile(tail, xc, total - xc + 1.0) if xc > 0 else 0.0
    high_share = beta_quantile(1.0 - tail, xc + 1.0, total - xc) if xc < total else 1.0

    def ratio(share: float) -> float:
        return math.inf if share >= 1.0 else share / (1.0 - share) * wb / wc

    return Effect(
        name="rate ratio",
        estimate=estimate,
        low=ratio(low_share),
        high=ratio(high_share),
        confidence=confidence,
    )


def _used(b: list[Count], c: list[Count], eb: int, tb: int, ec: int, tc: int, phi: float) -> SamplesUsed:
    return SamplesUsed(
        n_baseline=len(b),
        n_canary=len(c),
        effective_n_baseline=tb / phi,
        effective_n_canary=tc / phi,
        variance_inflation=phi if phi > 1.0 else None,
        baseline_events=eb,
        baseline_trials=tb,
        canary_events=ec,
        canary_trials=tc,
    )
