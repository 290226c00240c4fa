"""The benchmarks still run: each imports, starts its servers, runs a tiny load and prints its ratio line.

No timing is asserted here (timing belongs in bench/); these only catch a benchmark broken by an API
change. They start real nginx, blackbox_exporter and Prometheus on 127.0.0.1, so they are skipped
where those are not installed.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _installed(*binaries: str) -> bool:
    return all(shutil.which(b) or Path("/usr/sbin", b).exists() for b in binaries)


def _import(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _run(script: str, *args: str, timeout_seconds: float) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout_seconds,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", ["probes", "monitor_scale", "probe_cost", "store_cost", "links"])
def test_each_benchmark_module_imports_and_has_a_main(name: str) -> None:
    assert callable(_import(name).main)


@pytest.mark.skipif(
    not _installed("nginx", "prometheus-blackbox-exporter"), reason="needs nginx and blackbox_exporter"
)
def test_the_probes_benchmark_prints_its_ratio_line() -> None:
    out = _run("probes.py", "--requests", "200", "--concurrency", "5", timeout_seconds=90)
    assert re.search(
        r"^probes: livesite [\d,]+ probes/CPU-s vs blackbox_exporter .* ratio [\d.]+×$", out, re.M
    )


@pytest.mark.skipif(
    not _installed("nginx", "prometheus-blackbox-exporter", "prometheus"),
    reason="needs nginx, blackbox_exporter and prometheus",
)
def test_the_monitor_scale_benchmark_prints_its_ratio_line() -> None:
    out = _run("monitor_scale.py", "--checks", "50", "--interval", "1", "--duration", "3", timeout_seconds=90)
    assert re.search(r"^monitor_scale: livesite .* core, p99 lag .* → CPU ratio [\d.]+×$", out, re.M)


def test_the_store_cost_benchmark_prints_bytes_and_cpu_per_row() -> None:
    out = _run("store_cost.py", "--rows", "1000", timeout_seconds=60)
    assert re.search(
        r"^store_cost: 1,000 rows, [\d,]+ bytes per row on disk, [\d.]+ µs CPU per row", out, re.M
    )


@pytest.mark.skipif(not _installed("nginx", "linkchecker"), reason="needs nginx and linkchecker")
def test_the_links_benchmark_finds_the_planted_set_with_both_tools() -> None:
    out = _run(
        "links.py", "--pages", "30", "--broken-links", "2", "--broken-fragments", "2", timeout_seconds=120
    )
    assert re.search(r"^links: livesite [\d,]+ pages/s vs linkchecker .*same set: yes/yes\)$", out, re.M), out


@pytest.mark.skipif(not _installed("nginx"), reason="needs nginx")
def test_the_cross_zone_benchmark_prints_its_ratio_line() -> None:
    out = _run("cross_zone.py", "--runs", "40", "--zones", "2", timeout_seconds=60)
    assert re.search(
        r"^cross_zone: consistency \d+ µs CPU per zone vs http \d+ µs per probe → ratio [\d.]+×$", out, re.M
    )


@pytest.mark.skipif(not _installed("chromium"), reason="needs Debian's chromium")
def test_the_browser_benchmark_prints_its_ratio_line() -> None:
    out = _run("browser.py", "--runs", "1", timeout_seconds=180)
    assert re.search(r"^browser: livesite \d+ ms/journey .* → ratio [\d.]+×$", out, re.M), out


@pytest.mark.skipif(not _installed("nginx"), reason="needs nginx")
def test_the_journeys_benchmark_prints_its_ratio_line() -> None:
    out = _run("journeys.py", "--journeys", "60", "--concurrency", "5", timeout_seconds=90)
    assert re.search(r"^livesite\+lease +60/60 ok", out, re.M), out
    assert re.search(
        r"^journeys: livesite \d+ µs CPU/step, \d+ journeys/min/core .* ratio [\d.]+×$", out, re.M
    )
