"""10,000 http checks every 60 s: livesite's monitor vs Prometheus scraping blackbox_exporter, same targets.

Load: ``--checks`` distinct http checks (default 10,000) at ``--interval`` (default 60 s) against
local nginx (1 worker, ``--ports`` server blocks), each a fresh connection asserting status 200, the
JSON ok flag and ``X-Version == v1``. Contenders, one after the other, each for ``--duration``
(default 130 s, at least two intervals for a real run):

- livesite: ``livesite.monitor.Monitor`` with every Result stored in SQLite through ``BatchWriter``,
  in a child process.
- peer: Prometheus with a file_sd of the same targets through blackbox_exporter (an equivalent http
  module), scrape interval = ``--interval``; Prometheus stores each probe's series in its TSDB.

Measured window: from one interval after the contender is ready (the config is loaded and the
schedule started; by then every check has run once) to the end of the run. Over that window:
CPU share (CPU-s / wall-s from ``/proc/PID/stat``, all threads, of the contender's processes only),
RSS (max of 1 s samples; peak VmHWM over the whole life is printed too), and for livesite the
scheduling lag p50/p99 from ``monitor.scheduler.lag`` and the results stored.

Prints last: ``monitor_scale: livesite X% core, p99 lag Y ms, RSS Z MB vs prometheus+blackbox A% core,
B MB → CPU ratio R×``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # bench/ is not a package: the sys.path line above makes this importable

MODULE = "bench_http"


def target_url(index: int, ports: list[int]) -> str:
    """Check ``index``'s URL: distinct per check, spread over the nginx server blocks."""
    return f"http://127.0.0.1:{ports[index % len(ports)]}/t/{index}"


def config_yaml(checks: int, interval_seconds: float, ports: list[int], db: Path) -> str:
    lines = [
        "defaults:",
        f"  interval: {interval_seconds:g}s",
        "  timeout: 5s",
        "store:",
        f"  url: sqlite:///{db}",
        "checks:",
    ]
    for i in range(checks):
        lines += [
            f"  - name: check-{i:05d}",
            f"    url: {target_url(i, ports)}",
            f"    assert: ['status == 200', 'json.ok == true', 'header.X-Version == {h.REVISION}']",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Window:
    """What the parent saw of a contender's processes over the measured window."""

    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    max_rss_bytes: int = 0
    peak_rss_bytes: int = 0  # VmHWM at the end: includes start-up (config load)

    @property
    def core_share(self) -> float:
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0


@dataclass
class LivesiteReport:
    checks: int
    ready_seconds: float  # config load + plan + store open, before the schedule starts
    started: int
    skipped: int
    lag_p50_seconds: float | None
    lag_p99_seconds: float | None
    window_lag_p50_seconds: float | None
    window_lag_p99_seconds: float | None
    window_lag_max_seconds: float | None
    window_runs: int
    statuses: dict[str, int] = field(default_factory=dict)
    stored: int = 0
    dropped: int = 0


# ---------------------------------------------------------------------------------------------
# livesite (child process)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _livesite(args: argparse.Namespace) -> LivesiteReport:
    from livesite.config import loads
    from livesite.monitor import Monitor, plan
    from livesite.store import BatchWriter, open_store

    t0 = time.monotonic()
    ports = [int(p) for p in args.ports.split(",")]
    db = Path(args.db)  # absolute: the parent passes a resolved path
    config = loads(config_yaml(args.checks, args.interval, ports, db))
    store = await open_store(config.store.url)
    writer = BatchWriter(store)
    monitor = Monitor(config, plan(config), sink=writer)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    ready_seconds = time.monotonic() - t0
    writer.start()
    # As `livesite monitor` does: the config and plan live as long as the process, so they leave the
    # collector's sight (bench/RESULTS.md: 1.4 s pauses at 10,000 checks without this).
    gc.collect()
    gc.freeze()
    task = asyncio.create_task(monitor.run())
    print("READY", flush=True)  # the parent starts its clock here
    lag = monitor.scheduler.lag
    mark = None
    try:
        async with asyncio.timeout(args.interval):
            await stop.wait()
    except TimeoutError:
        mark = lag.n  # the window starts: lag values recorded from here on are the window's
    await stop.wait()
    in_window = 0 if mark is None else min(lag.n - mark, len(lag.recent))
    window = list(lag.recent)[len(lag.recent) - in_window :]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await writer.close()
    await store.close()
    with contextlib.closing(sqlite3.connect(db)) as check_db:
        stored = int(check_db.execute("SELECT count(*) FROM results").fetchone()[0])
    statuses: dict[str, int] = {}
    for (_, _, status), count in monitor.totals.items():
        statuses[status] = statuses.get(status, 0) + count
    return LivesiteReport(
        checks=args.checks,
        ready_seconds=ready_seconds,
        started=monitor.scheduler.started,
        skipped=monitor.scheduler.skipped,
        lag_p50_seconds=lag.percentile(0.5),
        lag_p99_seconds=lag.percentile(0.99),
        window_lag_p50_seconds=_percentile(window, 0.5),
        window_lag_p99_seconds=_percentile(window, 0.99),
        window_lag_max_seconds=max(window) if window else None,
        window_runs=len(window),
        statuses=statuses,
        stored=stored,
        dropped=writer.dropped,
    )


def _child_main(args: argparse.Namespace) -> None:
    from livesite.runtime import run as run_loop

    report = run_loop(_livesite(args))
    print(json.dumps(asdict(report)), flush=True)


# ---------------------------------------------------------------------------------------------
# measuring a contender from the parent


class Sampler:
    """RSS of a set of processes every second, on a thread, until stopped."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.max_rss_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.max_rss_bytes = max(self.max_rss_bytes, sum(h.rss_bytes(p) for p in self.pids))
            self._stop.wait(1.0)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(pids: list[int], ready_at: float, args: argparse.Namespace) -> Window:
    """Wait out the ramp (one interval after ready), then measure until ``duration`` after ready."""
    window_start = ready_at + args.interval
    window_end = ready_at + args.duration
    time.sleep(max(0.0, window_start - time.monotonic()))
    cpu0, t0 = sum(h.cpu_seconds(p) for p in pids), time.monotonic()
    with Sampler(pids) as sampler:
        time.sleep(max(0.0, window_end - time.monotonic()))
    cpu1, t1 = sum(h.cpu_seconds(p) for p in pids), time.monotonic()
    return Window(
        wall_seconds=t1 - t0,
        cpu_seconds=cpu1 - cpu0,
        max_rss_bytes=sampler.max_rss_bytes,
        peak_rss_bytes=sum(h.peak_rss_bytes(p) for p in pids),
    )


def run_livesite(args: argparse.Namespace, web: h.Nginx, tmp: Path) -> tuple[Window, LivesiteReport]:
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--role",
        "livesite",
        "--checks",
        str(args.checks),
        "--interval",
        str(args.interval),
        "--ports",
        ",".join(map(str, web.ports)),
        "--db",
        str((tmp / "livesite.db").resolve()),
    ]
    err_log = (tmp / "livesite.log").open("wb")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err_log, start_new_session=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()  # blocks through config load (seconds for 10k)
        if line != "READY":
            proc.wait(10)
            log = (tmp / "livesite.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the livesite child did not start (said {line!r}):\n{log}")
        window = measure([proc.pid], time.monotonic(), args)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(
                f"the livesite child failed ({proc.returncode}): {(tmp / 'livesite.log').read_text()}"
            )
        report = LivesiteReport(**json.loads(out.decode().strip().splitlines()[-1]))
        return window, report
    finally:
        h.stop(proc)
        err_log.close()


# ---------------------------------------------------------------------------------------------
# peer: Prometheus scraping blackbox_exporter


@dataclass
class PeerReport:
    version: str
    targets_up: int = 0
    probes_succeeding: int = 0
    window_probes: int = 0
    window_probes_ok: int = 0
    interval_p50_seconds: float | None = None
    interval_p99_seconds: float | None = None
    ready_seconds: float = 0.0


def prometheus_config(interval_seconds: float, blackbox_port: int, targets_file: Path) -> str:
    return json.dumps(  # JSON is YAML: no quoting surprises
        {
            "global": {
                "scrape_interval": f"{interval_seconds:g}s",
                "scrape_timeout": f"{min(10.0, interval_seconds):g}s",
                "evaluation_interval": f"{interval_seconds:g}s",
            },
            "scrape_configs": [
                {
                    "job_name": "blackbox",
                    "metrics_path": "/probe",
                    "params": {"module": [MODULE]},
                    "file_sd_configs": [{"files": [str(targets_file)]}],
                    "relabel_configs": [
                        {"source_labels": ["__address__"], "target_label": "__param_target"},
                        {"source_labels": ["__param_target"], "target_label": "instance"},
                        {"target_label": "__address__", "replacement": f"127.0.0.1:{blackbox_port}"},
                    ],
                }
            ],
        },
        indent=1,
    )


def _query(port: int, promql: str) -> float | None:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=30) as response:
        data = json.loads(response.read())
    result = data["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def _interval_quantiles(port: int) -> dict[str, float]:
    """Prometheus's own summary of the real time between scrapes, from its /metrics (not scraped
    into the TSDB here): quantile → seconds, for the one interval configured."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("prometheus_target_interval_length_seconds{"):
            labels, _, value = line.rpartition(" ")
            quantile = labels.partition('quantile="')[2].partition('"')[0]
            if quantile and value != "NaN":
                out[quantile] = max(out.get(quantile, 0.0), float(value))
    return out


def prometheus_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)
    return (out.stdout or out.stderr).splitlines()[0].strip()


def run_peer(args: argparse.Namespace, web: h.Nginx, tmp: Path) -> tuple[Window, PeerReport]:
    prometheus = h.require("prometheus")
    targets = tmp / "targets.json"
    targets.write_text(json.dumps([{"targets": [target_url(i, web.ports) for i in range(args.checks)]}]))
    with h.blackbox(MODULE) as bb:
        report = PeerReport(version=f"{prometheus_version(prometheus)}; {bb.version}")
        conf = tmp / "prometheus.yml"
        conf.write_text(prometheus_config(args.interval, bb.port, targets))
        port = h.free_port()
        t0 = time.monotonic()
        proc = h.spawn(
            [
                prometheus,
                f"--config.file={conf}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            tmp / "prometheus.log",
        )
        try:
            _wait_ready(port, proc)
            report.ready_seconds = time.monotonic() - t0
            window = measure([proc.pid, bb.proc.pid], time.monotonic(), args)
            span = f"{max(1, round(window.wall_seconds))}s"
            report.targets_up = int(_query(port, 'count(up{job="blackbox"} == 1)') or 0)
            report.probes_succeeding = int(_query(port, "count(probe_success == 1)") or 0)
            report.window_probes = int(_query(port, f"sum(count_over_time(probe_success[{span}]))") or 0)
            report.window_probes_ok = int(_query(port, f"sum(sum_over_time(probe_success[{span}]))") or 0)
            # Prometheus's own view of its schedule: how long the intervals between scrapes really were.
            quantiles = _interval_quantiles(port)
            report.interval_p50_seconds = quantiles.get("0.5")
            report.interval_p99_seconds = quantiles.get("0.99")
        finally:
            h.stop(proc)
    return window, report


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout_seconds: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("prometheus did not become ready")


# ---------------------------------------------------------------------------------------------
# report


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f}"


def _s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.3f}"


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=10_000, help="http checks (default 10,000)")
    parser.add_argument(
        "--interval", type=float, default=60.0, help="seconds between runs of a check (default 60)"
    )
    parser.add_argument(
        "--duration", type=float, default=130.0, help="seconds per contender after it is ready (default 130)"
    )
    parser.add_argument("--servers", type=int, default=4, help="nginx server blocks (ports), default 4")
    parser.add_argument("--ports", help=argparse.SUPPRESS)
    parser.add_argument("--no-peer", action="store_true", help="skip Prometheus + blackbox_exporter")
    parser.add_argument("--role", choices=["livesite"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        _child_main(args)
        return
    if args.duration <= args.interval:
        parser.error("--duration must be longer than --interval: the window starts one interval in")
    if args.duration < 2 * args.interval:
        print(
            f"note: a {args.duration:g} s run is shorter than two intervals: the window sees part of one round"
        )

    print(
        f"load: {h.fmt(args.checks)} http checks every {args.interval:g} s "
        f"({args.checks / args.interval:,.0f} fresh-connection probes/s) against nginx (1 worker, "
        f"{args.servers} server blocks) on 127.0.0.1; assertions: status 200, JSON ok flag, X-Version == v1; "
        f"{args.duration:g} s per contender, window = [ready + {args.interval:g} s, ready + {args.duration:g} s]"
    )
    print(f"machine: {os.cpu_count()} cores, load average before {h.load_average()}")
    with tempfile.TemporaryDirectory(prefix="livesite-bench-monitor-") as tmp, h.nginx(args.servers) as web:
        (Path(tmp) / "livesite").mkdir()
        ours, report = run_livesite(args, web, Path(tmp) / "livesite")
        statuses = ", ".join(f"{k} {h.fmt(v)}" for k, v in sorted(report.statuses.items()))
        print(
            f"  livesite: ready in {report.ready_seconds:.1f} s (config load + plan); window {ours.wall_seconds:.0f} s: "
            f"CPU {ours.cpu_seconds:.1f} s = {ours.core_share:.1%} of a core; RSS max {_mb(ours.max_rss_bytes)} MB "
            f"(peak over life {_mb(ours.peak_rss_bytes)} MB); lag in window p50 {_ms(report.window_lag_p50_seconds)} ms, "
            f"p99 {_ms(report.window_lag_p99_seconds)} ms, max {_ms(report.window_lag_max_seconds)} ms over "
            f"{h.fmt(report.window_runs)} runs (whole run p50 {_ms(report.lag_p50_seconds)} ms, p99 "
            f"{_ms(report.lag_p99_seconds)} ms); runs started {h.fmt(report.started)}, skipped {report.skipped}; "
            f"results {statuses}; stored {h.fmt(report.stored)}, dropped {report.dropped}",
            flush=True,
        )
        peer: tuple[Window, PeerReport] | None = None
        if not args.no_peer:
            (Path(tmp) / "peer").mkdir()
            peer = run_peer(args, web, Path(tmp) / "peer")
            window, pr = peer
            print(f"peer: {pr.version}")
            print(
                f"  prometheus+blackbox: ready in {pr.ready_seconds:.1f} s; window {window.wall_seconds:.0f} s: "
                f"CPU {window.cpu_seconds:.1f} s = {window.core_share:.1%} of a core; RSS max "
                f"{_mb(window.max_rss_bytes)} MB (peak over life {_mb(window.peak_rss_bytes)} MB); targets up "
                f"{h.fmt(pr.targets_up)}, probe_success 1 on {h.fmt(pr.probes_succeeding)}; probes stored in "
                f"window {h.fmt(pr.window_probes)} ({h.fmt(pr.window_probes_ok)} succeeded); scrape interval "
                f"p50 {_s(pr.interval_p50_seconds)} s, p99 {_s(pr.interval_p99_seconds)} s (target {args.interval:g} s)",
                flush=True,
            )
    print(f"machine: load average after {h.load_average()}")
    head = (
        f"monitor_scale: livesite {ours.core_share:.1%} core, p99 lag {_ms(report.window_lag_p99_seconds)} ms, "
        f"RSS {_mb(ours.max_rss_bytes)} MB"
    )
    if peer is None:
        print(head + " (peer skipped)")
        return
    window = peer[0]
    ratio = window.core_share / ours.core_share if ours.core_share else float("inf")
    print(
        f"{head} vs prometheus+blackbox {window.core_share:.1%} core, {_mb(window.max_rss_bytes)} MB "
        f"→ CPU ratio {ratio:.2f}×"
    )


if __name__ == "__main__":
    main()
