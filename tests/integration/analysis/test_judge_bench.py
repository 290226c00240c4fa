"""bench/judge.py still runs, and its Kayenta re-implementation classifies as Kayenta's does."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "judge.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_judge", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_kayenta_passes_identical_data_and_flags_a_clear_shift(bench: ModuleType) -> None:
    baseline = [float(x) for x in range(30)]
    assert bench.kayenta(baseline, list(baseline)) == (False, False)
    assert bench.kayenta(baseline, [x + 20 for x in baseline]) == (True, False)
    assert bench.kayenta(baseline, [x - 20 for x in baseline]) == (False, True)


def test_kayentas_tolerance_forgives_a_shift_whose_interval_barely_clears_zero(bench: ModuleType) -> None:
    # A shift of 8 on a spread of 30: the 98% interval is above 0, but not above 0.25 × the estimate.
    baseline = [float(x) for x in range(30)]
    canary = [x + 8 for x in baseline]
    from livesite.analysis.ranks import shift_interval, u_variance

    shift = shift_interval(baseline, canary, 0.98, u_variance(30, 30, 0.0) ** 0.5)
    assert shift.low is not None and 0 < shift.low <= 0.25 * shift.estimate
    assert bench.kayenta(baseline, canary) == (False, False)


@pytest.mark.slow
def test_the_judge_benchmark_prints_its_table_and_ratio_line() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--runs", "10", "--power-runs", "10"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "| A/A false alarms, latency AR(1) φ=0.7, n=60 |" in done.stdout
    assert "| sparse errors caught, Poisson(0.3)/100 vs 0, n=60 |" in done.stdout
    assert re.search(
        r"^judge: worst A/A false-alarm rate ours [\d.]+% vs Kayenta [\d.]+%; sparse errors caught \(n=60\) "
        r"ours \d+% vs Kayenta [\d.]+%; ratio of false alarms Kayenta/ours ([\d.]+|inf)×$",
        done.stdout.strip().splitlines()[-1],
    ), done.stdout[-500:]
