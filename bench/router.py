"""The built-in router vs HAProxy (http mode) vs direct, same nginx backends, same weights, same run.

Load: wrk (1 thread) against each contender in turn, three ways:

- keep-alive: ``--connections`` (default 50) persistent connections for ``--duration`` seconds;
- new connection per request: the same with ``Connection: close`` (the backend side stays pooled,
  as a proxy in front of a real site does);
- one connection: a single keep-alive connection, to measure the latency one hop adds without the
  CPU contention that dominates p99 under saturation on 2 cores (see ANCHORS.md).

Backends: nginx (1 worker, access log off, keep-alive unbounded) answering a 44-byte JSON body on two
ports, weighted 90 / 10 in both proxies. HAProxy 1 thread, ``http-reuse always``, ``option
forwardfor`` (the router adds X-Forwarded-For too), no health checks; the router with ``--no-health``.
Pinning, when taskset exists: the proxy under test on CPU 1; wrk and nginx on CPU 0, so both proxies
get one whole core and the same neighbours.

Each run is repeated ``--rounds`` times (default 2), contenders in turn; the best round of each counts.
Last line: ``router: livesite X req/s vs haproxy Y req/s keep-alive → ratio Z×; ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # bench/ is not a package: the sys.path line above makes this importable

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = (90, 10)


@dataclass(frozen=True)
class Run:
    contender: str
    mode: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests_per_cpu_second: float  # the contender's own CPU: steadier than req/s on a shared machine


@dataclass(frozen=True)
class Wrk:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _find(pattern: str, out: str) -> str:
    match = re.search(pattern, out, re.M)
    if match is None:
        raise RuntimeError(f"wrk said something unexpected (no {pattern!r}):\n{out}")
    return match.group(1)


def wrk(url: str, *, connections: int, duration_seconds: float, close: bool, cpu: str | None) -> Wrk:
    argv = [h.require("wrk"), "-t1", f"-c{connections}", f"-d{duration_seconds:g}s", "--latency", url]
    if close:
        argv[1:1] = ["-H", "Connection: close"]
    if cpu is not None:
        argv = ["taskset", "-c", cpu, *argv]
    out = subprocess.run(
        argv, capture_output=True, text=True, check=True, timeout=duration_seconds + 30
    ).stdout
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    return Wrk(
        requests_per_second=float(_find(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_ms(_find(r"^\s+50%\s+(\S+)", out)),
        p99_ms=_ms(_find(r"^\s+99%\s+(\S+)", out)),
        errors=errors,
        requests=int(_find(r"(\d+) requests in", out)),
    )


def haproxy_config(port: int, backends: list[int]) -> str:
    servers = "\n".join(
        f"    server {name} 127.0.0.1:{p} weight {w}"
        for name, p, w in zip(("stable", "canary"), backends, WEIGHTS, strict=True)
    )
    return f"""global
    nbthread 1
    maxconn 4000
defaults
    mode http
    timeout connect 3s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
    option forwardfor
    http-reuse always
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
{servers}
"""


@contextlib.contextmanager
def haproxy(backends: list[int], cpu: str | None) -> Iterator[tuple[int, list[int]]]:
    binary = h.require("haproxy")
    with tempfile.TemporaryDirectory(prefix="livesite-bench-haproxy-") as tmp:
        port = h.free_port()
        conf = Path(tmp) / "haproxy.cfg"
        conf.write_text(haproxy_config(port, backends))
        argv = [binary, "-f", str(conf), "-db"]
        proc = h.spawn(["taskset", "-c", cpu, *argv] if cpu else argv, Path(tmp) / "out.log")
        try:
            h.wait_for_port(port, proc=proc)
            yield port, [proc.pid]  # taskset execs: the pid is HAProxy's own
        finally:
            h.stop(proc)


@contextlib.contextmanager
def livesite_router(backends: list[int], cpu: str | None) -> Iterator[tuple[int, list[int]]]:
    port = h.free_port()
    argv = [
        sys.executable,
        "-m",
        "livesite.cli.main",
        "router",
        "--listen",
        f"127.0.0.1:{port}",
        "--no-health",
    ]
    for name, p, w in zip(("stable", "canary"), backends, WEIGHTS, strict=True):
        argv += ["--backend", f"{name}=http://127.0.0.1:{p}={w}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory(prefix="livesite-bench-router-") as tmp:
        proc = h.spawn(["taskset", "-c", cpu, *argv] if cpu else argv, Path(tmp) / "out.log", env=env)
        try:
            h.wait_for_port(port, proc=proc)
            yield port, [proc.pid]
        finally:
            h.stop(proc)


def haproxy_version() -> str:
    out = subprocess.run([h.require("haproxy"), "-v"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "haproxy (unknown version)"


MODES = ("keep-alive", "new-connection", "one-connection")
CONTENDERS = ("direct", "haproxy", "livesite")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds per keep-alive / new-connection run"
    )
    parser.add_argument("--single-duration", type=float, default=3.0, help="seconds per one-connection run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of all runs; the best round of each counts"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    args = parser.parse_args()
    pin = not args.no_pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    load_cpu, proxy_cpu = ("0", "1") if pin else (None, None)

    print(
        f"peer: {haproxy_version()}; load: wrk 1 thread, {args.connections} connections, {args.duration:g}s per run"
    )
    where = "proxy on CPU 1, wrk and nginx on CPU 0" if pin else "none"
    print(f"load average before: {h.load_average()}; pinning: {where}")
    runs: list[Run] = []
    with contextlib.ExitStack() as stack:
        nginx = stack.enter_context(h.nginx(port_count=2))
        if pin:
            for pid in nginx.pids:
                subprocess.run(["taskset", "-pc", "0", str(pid)], capture_output=True, check=False)
        backends = nginx.ports
        # All three up at once and taken in turn, round after round: a burst of load from the other
        # work on this machine then hits every contender alike, and the best round of each is kept.
        contenders = {
            "direct": (backends[0], nginx.pids),
            "haproxy": stack.enter_context(haproxy(backends, proxy_cpu)),
            "livesite": stack.enter_context(livesite_router(backends, proxy_cpu)),
        }
        for port, _ in contenders.values():  # warm-up: pools filled, code paths hot
            wrk(
                f"http://127.0.0.1:{port}{h.PATH}",
                connections=args.connections,
                duration_seconds=1,
                close=False,
                cpu=load_cpu,
            )
        for round_number in range(1, args.rounds + 1):
            for mode in MODES:
                connections = 1 if mode == "one-connection" else args.connections
                seconds = args.single_duration if mode == "one-connection" else args.duration
                for name, (port, pids) in contenders.items():
                    cpu_before = sum(h.cpu_seconds(pid) for pid in pids)
                    w = wrk(
                        f"http://127.0.0.1:{port}{h.PATH}",
                        connections=connections,
                        duration_seconds=seconds,
                        close=mode == "new-connection",
                        cpu=load_cpu,
                    )
                    cpu = sum(h.cpu_seconds(pid) for pid in pids) - cpu_before
                    per_cpu = w.requests / cpu if cpu > 0 else 0.0
                    runs.append(Run(name, mode, w.requests_per_second, w.p50_ms, w.p99_ms, w.errors, per_cpu))
                    print(
                        f"round {round_number}  {name:9} {mode:15} {h.fmt(w.requests_per_second):>8} req/s"
                        f"  p50 {w.p50_ms:6.2f} ms  p99 {w.p99_ms:6.2f} ms  {h.fmt(per_cpu):>7} req/CPU-s"
                        + (f"  errors {w.errors}" if w.errors else ""),
                        flush=True,
                    )
    print(f"load average after: {h.load_average()}")

    def best(contender: str, mode: str) -> Run:
        """The best round: highest req/s; for one connection, lowest p99 (the least disturbed)."""
        mine = [r for r in runs if r.contender == contender and r.mode == mode]
        if mode == "one-connection":
            return min(mine, key=lambda r: r.p99_ms)
        return max(mine, key=lambda r: r.requests_per_second)

    def most_per_cpu(contender: str, mode: str) -> float:
        return max(r.requests_per_cpu_second for r in runs if r.contender == contender and r.mode == mode)

    print("best round of each (req/CPU-s: the contender's own CPU; nginx's for direct):")
    for mode in MODES:
        for name in CONTENDERS:
            r = best(name, mode)
            print(
                f"  {name:9} {mode:15} {h.fmt(r.requests_per_second):>8} req/s  p50 {r.p50_ms:6.2f} ms"
                f"  p99 {r.p99_ms:6.2f} ms  {h.fmt(most_per_cpu(name, mode)):>7} req/CPU-s"
            )
    if any(r.errors for r in runs):
        print(f"errors: {sum(r.errors for r in runs)} (non-2xx or socket errors; see above)")

    def ratio(mode: str) -> float:
        return best("livesite", mode).requests_per_second / best("haproxy", mode).requests_per_second

    def cpu_ratio(mode: str) -> float:
        return most_per_cpu("livesite", mode) / most_per_cpu("haproxy", mode)

    direct, ours, peer = (best(n, "one-connection") for n in ("direct", "livesite", "haproxy"))
    print(
        f"one hop adds (one connection, vs direct): livesite p50 {ours.p50_ms - direct.p50_ms:+.3f} ms, "
        f"p99 {ours.p99_ms - direct.p99_ms:+.3f} ms; haproxy p50 {peer.p50_ms - direct.p50_ms:+.3f} ms, "
        f"p99 {peer.p99_ms - direct.p99_ms:+.3f} ms"
    )
    print(
        f"per CPU-second: livesite/haproxy {cpu_ratio('keep-alive'):.2f}× keep-alive, "
        f"{cpu_ratio('new-connection'):.2f}× new connection per request"
    )
    print(
        f"router: livesite {h.fmt(best('livesite', 'keep-alive').requests_per_second)} req/s vs haproxy "
        f"{h.fmt(best('haproxy', 'keep-alive').requests_per_second)} req/s keep-alive → ratio {ratio('keep-alive'):.2f}×; "
        f"new connection per request ratio {ratio('new-connection'):.2f}×; p99 added {ours.p99_ms - direct.p99_ms:+.3f} ms"
    )


if __name__ == "__main__":
    main()
