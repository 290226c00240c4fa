"""An anytime-valid rate test: a mixture sequential probability ratio test (an e-process).

A rollout looks at its counts after every step. Re-running a fixed-sample test at each look
inflates false alarms (ten looks at alpha 1% fail good canaries far more than 1% of the time); an
e-process does not: by Ville's inequality, the chance that it *ever* reaches 1/alpha under the null
is at most alpha, however often it is looked at and whenever the rollout stops.

Each event is the canary's with probability π_i(θ) = θ·t_c / (θ·t_c + t_b) in interval i, where θ
is the rate ratio and t the trials; this holds when the canary's traffic share changes between
intervals. For every θ beyond the null (θ ≥ ρ₀ for "increase") the likelihood ratio against ρ₀ is a
non-negative supermartingale under any θ' ≤ ρ₀; the e-value is their average over a log-spaced grid
of θ (a discrete prior), so it is one too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from livesite.analysis.counts import _checked
from livesite.analysis.verdict import AppliedThreshold, Count, Direction, Effect, SamplesUsed, Verdict

_TEST = "mixture SPRT on the rate ratio (anytime-valid e-value)"
_GRID = 40


class SequentialSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(default=0.005, gt=0, lt=0.5)
    min_rate_ratio: float = Field(default=1.2, ge=1.0)
    max_rate_ratio: float = Field(default=1000.0, gt=1.0)  # the prior's far end


def _log_e(pairs: Sequence[tuple[Count, Count]], thetas: Sequence[float], null: float) -> float:
    """log of the average, over ``thetas``, of the likelihood ratio of θ against ``null``."""
    # Intervals with the same traffic split share π(θ): sum their events once.
    split: dict[float, list[int]] = {}
    for (eb, tb), (ec, tc) in pairs:
        if tb == 0 or tc == 0 or eb + ec == 0:
            continue
        events = split.setdefault(tc / tb, [0, 0])
        events[0] += eb
        events[1] += ec
    logs = []
    for theta in thetas:
        total = 0.0
        for ratio, (eb, ec) in split.items():
            share = theta * ratio / (theta * ratio + 1.0)
            share0 = null * ratio / (null * ratio + 1.0)
            total += ec * math.log(share / share0) + eb * math.log((1.0 - share) / (1.0 - share0))
        logs.append(total)
    top = max(logs)
    return top + math.log(sum(math.exp(v - top) for v in logs) / len(logs))


def judge_sequential(
    baseline: Sequence[Count],
    canary: Sequence[Count],
    direction: Direction = "increase",
    spec: SequentialSpec | None = None,
) -> Verdict:
    """Fail as soon as the evidence is conclusive; until then ``inconclusive`` ("keep going").

    ``baseline[i]`` and ``canary[i]`` are the same interval's (events, trials). This judge never
    passes: at the end of a rollout, the fixed-sample :func:`~livesite.analysis.judge` decides.

    Raises:
        ValueError: malformed counts, or sides of different lengths.
    """
    spec = spec or SequentialSpec()
    b, c = _checked(baseline, "baseline"), _checked(canary, "canary")
    if len(b) != len(c):
        raise ValueError(f"the sequential judge pairs intervals: baseline has {len(b)}, canary {len(c)}")
    pairs = list(zip(b, c, strict=True))
    r0, top = spec.min_rate_ratio, spec.max_rate_ratio
    up = [r0 * (top / r0) ** (i / (_GRID - 1)) for i in range(_GRID)]
    logs: list[float] = []
    if direction in ("increase", "either"):
        logs.append(_log_e(pairs, up, r0))
    if direction in ("decrease", "either"):
        logs.append(_log_e(pairs, [1.0 / t for t in up], 1.0 / r0))
    peak = max(logs)
    log_e = peak + math.log(sum(math.exp(v - peak) for v in logs) / len(logs))
    e_value = math.exp(min(log_e, 700.0))
    bound = 1.0 / spec.alpha
    eb, tb = sum(e for e, _ in b), sum(t for _, t in b)
    ec, tc = sum(e for e, _ in c), sum(t for _, t in c)
    samples = SamplesUsed(
        n_baseline=len(b),
        n_canary=len(c),
        effective_n_baseline=tb,
        effective_n_canary=tc,
        baseline_events=eb,
        baseline_trials=tb,
        canary_events=ec,
        canary_trials=tc,
    )
    rate_b, rate_c = (eb / tb if tb else 0.0), (ec / tc if tc else 0.0)
    ratio = rate_c / rate_b if rate_b > 0 else (math.inf if rate_c > 0 else 1.0)
    crossed = e_value >= bound
    seen = f"canary {ec}/{tc} vs baseline {eb}/{tb} events"
    return Verdict(
        outcome="fail" if crossed else "inconclusive",
        kind="counts",
        direction=direction,
        test=_TEST,
        statistic_name="e-value",
        statistic=e_value,
        bound=bound,
        alpha=spec.alpha,
        effect=Effect(name="rate ratio", estimate=ratio),
        samples=samples,
        thresholds=(
            AppliedThreshold(name="e-value bound (1/alpha)", value=bound, observed=e_value, crossed=crossed),
        ),
        reason=(
            f"{seen}: e-value {e_value:.3g} >= {bound:g}, conclusive beyond a {r0:g}x rate change"
            if crossed
            else f"{seen}: e-value {e_value:.3g} < {bound:g}, no conclusive change yet: keep going"
        ),
    )
