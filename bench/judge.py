"""livesite's judges against a Kayenta-default Mann-Whitney, on the same simulated data.

Data (``livesite.analysis.simulate``): latencies 100 ms × exp(0.1·e), e independent or a stationary
AR(1) with φ = 0.7; a +x% canary is multiplied by 1 + x. Error counts: Poisson(0.3) errors per
interval of 100 requests on the canary against none on the baseline.

Kayenta, re-implemented here from its MannWhitneyClassifier (no JVM needed): two-sided
Mann-Whitney / Hodges-Lehmann interval at confidence 0.98 (normal approximation, tie and
continuity corrections, points treated as independent); "High" when the interval's lower bound is
above 0.25 × |estimate|, "Low" when its upper bound is below −0.25 × |estimate|. For error counts it
is what Kayenta does with any metric: the per-interval error counts are the samples.

Ours: ``judge(kind="continuous")`` for latencies (defaults: alpha 0.005, 1% floor, autocorrelation
corrected) and ``judge(kind="counts")`` on (errors, requests) per interval. Both judges see exactly
the same series in every run; direction "increase" for both, and Kayenta's "either" is shown for
the A/A rows because that is how it is usually configured.

Last line: ``judge: worst A/A false-alarm rate ours X% vs Kayenta Y%; sparse errors caught (n=60)
ours A% vs Kayenta B%; ratio of false alarms Kayenta/ours R×``.
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import time
from collections.abc import Sequence

from livesite.analysis import judge, judge_sequential
from livesite.analysis import simulate as sim
from livesite.analysis.numeric import median
from livesite.analysis.ranks import _ar1_mean_factor, average_ranks, rank_sum, shift_interval, u_variance

SIZES = (20, 60, 180)
SHIFTS = (0.02, 0.05, 0.10)


def kayenta(baseline: Sequence[float], canary: Sequence[float]) -> tuple[bool, bool]:
    """(High, Low) as Kayenta's MannWhitneyClassifier classifies, confidence 0.98, fraction 0.25."""
    if list(baseline) == list(canary):
        return False, False
    _, ties = average_ranks([*baseline, *canary])
    shift = shift_interval(baseline, canary, 0.98, math.sqrt(u_variance(len(baseline), len(canary), ties)))
    if shift.low is None or shift.high is None:
        return False, False
    critical = 0.25 * abs(shift.estimate)
    return shift.low > critical, shift.high < -critical


def ours(baseline: Sequence[float], canary: Sequence[float]) -> bool:
    return judge(baseline, canary, "continuous", "increase").outcome == "fail"


# The rank series of a Gaussian AR(1) with φ = 0.7 has lag-1 correlation (6/π)·asin(φ/2) ≈ 0.683.
RANK_RHO = 6.0 / math.pi * math.asin(0.7 / 2.0)


def oracle(baseline: Sequence[float], canary: Sequence[float], phi: float) -> bool:
    """Our test told the true autocorrelation instead of estimating it: the best an honest rank test
    can do on these series, so the gap to it is what estimating ρ costs, and the rest of the gap to
    Kayenta is what honesty costs."""
    inflation = _ar1_mean_factor(RANK_RHO, len(baseline)) if phi else 1.0
    test = rank_sum(baseline, canary, "greater", inflation)
    if test.p_value >= 0.005:
        return False
    shift = shift_interval(baseline, canary, 0.99, test.sd_u)
    return shift.estimate / abs(median(baseline)) >= 0.01


def pct(hits: int, runs: int) -> str:
    return f"{100.0 * hits / runs:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs per A/A row (default 1000)")
    parser.add_argument("--power-runs", type=int, default=200, help="runs per power row (default 200)")
    parser.add_argument("--seed", type=int, default=20261129)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    print(
        f"python {platform.python_version()}, seed {args.seed}, {args.runs} A/A runs, {args.power_runs} power runs per row"
    )
    rows: list[tuple[str, str, str, str]] = []
    worst_ours = worst_kayenta = 0.0
    timing = {"ours": 0.0, "kayenta": 0.0}
    judged = 0

    # A/A: no change at all.
    for phi, label in ((0.0, "independent"), (0.7, "AR(1) φ=0.7")):
        for n in SIZES:
            hits_o = hits_k = hits_k2 = hits_t = 0
            for _ in range(args.runs):
                b, c = sim.latencies(rng, n, phi), sim.latencies(rng, n, phi)
                hits_t += oracle(b, c, phi)
                t0 = time.process_time()
                hits_o += ours(b, c)
                t1 = time.process_time()
                high, low = kayenta(b, c)
                t2 = time.process_time()
                hits_k += high
                hits_k2 += high or low
                if n == 60:
                    timing["ours"] += t1 - t0
                    timing["kayenta"] += t2 - t1
                    judged += 1
            worst_ours = max(worst_ours, hits_o / args.runs)
            worst_kayenta = max(worst_kayenta, hits_k / args.runs)
            rows.append(
                (
                    f"A/A false alarms, latency {label}, n={n}",
                    f"{pct(hits_o, args.runs)} (told ρ: {pct(hits_t, args.runs)})",
                    f"{pct(hits_k, args.runs)} (either: {pct(hits_k2, args.runs)})",
                    "≤ 1%",
                )
            )

    # Power: a real slowdown, on independent and on AR(1) series.
    for phi, label in ((0.0, "independent"), (0.7, "AR(1) φ=0.7")):
        for shift in SHIFTS:
            for n in SIZES:
                hits_o = hits_k = hits_t = 0
                for _ in range(args.power_runs):
                    b, c = sim.latencies(rng, n, phi), sim.latencies(rng, n, phi, shift)
                    hits_o += ours(b, c)
                    hits_k += kayenta(b, c)[0]
                    hits_t += oracle(b, c, phi)
                rows.append(
                    (
                        f"power +{shift:.0%}, latency {label}, n={n}",
                        f"{pct(hits_o, args.power_runs)} (told ρ: {pct(hits_t, args.power_runs)})",
                        pct(hits_k, args.power_runs),
                        "≥ Kayenta",
                    )
                )

    # Sparse errors: Poisson(0.3) per 100-request interval on the canary, none on the baseline.
    sparse_ours_60 = sparse_kayenta_60 = 0.0
    for n in SIZES:
        hits_o = hits_k = 0
        for _ in range(args.power_runs):
            b, c = sim.counts(rng, n, 0.0), sim.counts(rng, n, 0.3)
            hits_o += judge(b, c, "counts", "increase").outcome == "fail"
            hits_k += kayenta([float(e) for e, _ in b], [float(e) for e, _ in c])[0]
        if n == 60:
            sparse_ours_60, sparse_kayenta_60 = hits_o / args.power_runs, hits_k / args.power_runs
        rows.append(
            (
                f"sparse errors caught, Poisson(0.3)/100 vs 0, n={n}",
                pct(hits_o, args.power_runs),
                pct(hits_k, args.power_runs),
                "≥ 95%",
            )
        )

    # Sequential: the e-process looked at after every interval, on the same sparse errors, and A/A.
    looks = 60
    caught, stops, alarms = 0, [], 0
    for _ in range(args.power_runs):
        b, c = sim.counts(rng, looks, 0.0), sim.counts(rng, looks, 0.3)
        for k in range(1, looks + 1):
            if judge_sequential(b[:k], c[:k]).outcome == "fail":
                caught, stops = caught + 1, [*stops, k]
                break
        b, c = sim.counts(rng, looks, 5.0), sim.counts(rng, looks, 5.0)
        alarms += any(judge_sequential(b[:k], c[:k]).outcome == "fail" for k in range(1, looks + 1))
    stops.sort()
    median_stop = stops[len(stops) // 2] if stops else float("nan")
    rows.append(
        (
            f"sequential, sparse errors, looked at every interval up to {looks}",
            f"{pct(caught, args.power_runs)}, median stop at interval {median_stop}",
            "n/a (fixed sample only)",
            "stops early",
        )
    )
    rows.append(
        (
            f"sequential A/A false alarms, Poisson(5)/100 both, {looks} looks",
            pct(alarms, args.power_runs),
            "n/a",
            "≤ 0.5% (alpha)",
        )
    )

    print()
    print("| scenario | livesite | Kayenta default | goal |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    per_ours = 1e6 * timing["ours"] / max(1, judged)
    per_kayenta = 1e6 * timing["kayenta"] / max(1, judged)
    print(
        f"CPU per verdict at n=60: livesite {per_ours:.0f} µs, Kayenta re-implementation {per_kayenta:.0f} µs"
    )
    print(f"elapsed {time.perf_counter() - started:.1f} s")
    ratio = worst_kayenta / worst_ours if worst_ours else math.inf
    print(
        f"judge: worst A/A false-alarm rate ours {worst_ours:.1%} vs Kayenta {worst_kayenta:.1%}; "
        f"sparse errors caught (n=60) ours {sparse_ours_60:.0%} vs Kayenta {sparse_kayenta_60:.1%}; "
        f"ratio of false alarms Kayenta/ours {ratio:.1f}×"
    )


if __name__ == "__main__":
    main()
