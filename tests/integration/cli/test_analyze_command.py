"""`livesite analyze` as users run it: exported samples in, a verdict and its exit code out."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cli_runner import livesite
from livesite.analysis import simulate as sim


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def latencies(tmp_path: Path) -> tuple[Path, Path, Path]:
    rng = random.Random(3)
    baseline = write(
        tmp_path / "baseline.txt", ["# seconds, oldest first", *map(str, sim.latencies(rng, 60))]
    )
    slower = write(tmp_path / "slower.txt", [*map(str, sim.latencies(rng, 60, shift=0.2)), ""])
    same = tmp_path / "same.json"
    same.write_text(json.dumps(sim.latencies(rng, 60)))
    return baseline, slower, same


def test_a_slower_canary_exits_1_with_the_reason(latencies: tuple[Path, Path, Path]) -> None:
    baseline, slower, _ = latencies
    done = livesite("analyze", "--baseline", str(baseline), "--canary", str(slower))
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("FAIL: the canary shifted +")
    assert "Mann-Whitney U" in done.stdout and "effective" in done.stdout and "p = " in done.stdout


def test_an_unchanged_canary_exits_0(latencies: tuple[Path, Path, Path]) -> None:
    baseline, _, same = latencies
    done = livesite("analyze", "--baseline", str(baseline), "--canary", str(same))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("PASS: ")


def test_json_output_is_the_verdict(latencies: tuple[Path, Path, Path]) -> None:
    baseline, slower, _ = latencies
    done = livesite("analyze", "--baseline", str(baseline), "--canary", str(slower), "--json")
    assert done.returncode == 1
    verdict = json.loads(done.stdout)
    assert verdict["outcome"] == "fail" and verdict["kind"] == "continuous"
    assert verdict["samples"]["n_canary"] == 60 and verdict["effect"]["name"] == "relative shift"


def test_sparse_errors_in_counts_files_fail(tmp_path: Path) -> None:
    baseline = write(tmp_path / "b.csv", ["0,100"] * 60)
    canary = write(tmp_path / "c.csv", ["1,100"] * 18 + ["0,100"] * 42)
    done = livesite("analyze", "--baseline", str(baseline), "--canary", str(canary))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "18/6000" in done.stdout and "rate ratio" in done.stdout


def test_too_little_data_is_inconclusive_and_exits_5(tmp_path: Path) -> None:
    baseline = write(tmp_path / "b.txt", ["0.1", "0.2"])
    canary = write(tmp_path / "c.txt", ["0.3"])
    done = livesite("analyze", "--baseline", str(baseline), "--canary", str(canary))
    assert done.returncode == 5
    assert done.stdout.startswith("INCONCLUSIVE: too few samples")
    empty = write(tmp_path / "empty.txt", [])
    assert (
        livesite("analyze", "--baseline", str(empty), "--canary", str(empty), "--kind", "counts").returncode
        == 5
    )


@pytest.mark.parametrize(
    ("lines", "needle"),
    [
        (["0.1", "abc"], "b.txt:2: 'abc' is not a number"),
        (["0.1", "nan"], "b.txt:2: 'nan' is not a finite number"),
        (["1,100", "5,3"], "b.txt:2: 5 events out of 3 trials is impossible"),
        (["1,100", "0.5"], "b.txt:2: mixes numbers and 'events,trials' pairs"),
        (["[1, 2"], "b.txt:2:1: not valid JSON"),
        (['["x"]'], "item 1: 'x' is neither a number nor [events, trials]"),
    ],
)
def test_a_bad_file_names_the_line_and_exits_2(tmp_path: Path, lines: list[str], needle: str) -> None:
    bad = write(tmp_path / "b.txt", lines)
    good = write(tmp_path / "c.txt", ["0.1"] * 20)
    done = livesite("analyze", "--baseline", str(bad), "--canary", str(good))
    assert done.returncode == 2, done.stdout + done.stderr
    assert needle in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["--baseline", "x.txt"],
            "give --baseline FILE and --canary FILE (or --canary FILE with --threshold)",
        ),
        (["--baseline", "nope.txt", "--canary", "nope.txt"], "cannot read samples from nope.txt"),
        (["--calibrate", "--direction", "up"], "--direction 'up' is not one of increase, decrease, either"),
        (["--calibrate", "--alpha", "0.7"], "--alpha 0.7 must be above 0 and below 0.5"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    done = livesite("analyze", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert needle in done.stderr


def test_calibrate_prints_the_a_a_false_alarm_rates(tmp_path: Path) -> None:
    done = livesite("analyze", "--calibrate", "--runs", "20", "--seed", "3", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    scenarios = {(r["scenario"], r["n"]) for r in rows}
    assert ("latency, AR(1) phi=0.7", 60) in scenarios and ("latency, independent", 180) in scenarios
    assert all(r["runs"] == 20 and 0 <= r["rate"] <= 1 and r["bound"] == 0.01 for r in rows)
    again = livesite("analyze", "--calibrate", "--runs", "20", "--seed", "3", "--json")
    assert json.loads(again.stdout) == rows  # a seed reproduces a run
    table = livesite("analyze", "--calibrate", "--runs", "10")
    assert table.returncode == 0 and "A/A false-alarm rate" in table.stdout and "AR(1)" in table.stdout


def test_thresholds_hold_the_canary_to_limits(tmp_path: Path) -> None:
    canary = write(tmp_path / "c.txt", ["0.1"] * 98 + ["0.2", "0.5"])
    done = livesite("analyze", "--canary", str(canary), "-t", "p99 < 200ms", "-t", "mean < 1s")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL: p99 is 203ms: breaks p99 < 200ms" in done.stdout and "PASS: mean is" in done.stdout
    listed = livesite("analyze", "--canary", str(canary), "-t", "p99 < 1s", "--json")
    assert listed.returncode == 0
    assert [v["outcome"] for v in json.loads(listed.stdout)] == ["pass"]
    wrong = livesite("analyze", "--canary", str(canary), "-t", "error_rate < 1%")
    assert wrong.returncode == 2
    assert "needs 'events,trials' counts" in wrong.stderr
