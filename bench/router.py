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


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(
    url: str, *, connections: int, duration_seconds: float, close: bool, cpu: str | None
) -> tuple[float, float, float, int]:
    argv = [h.require("wrk"), "-t1", f"-c{connections}", f"-d{duration_seconds:g}s", "--latency", url]
    if close:
        argv[1:1] = ["-H", "Connection: close"]
    if cpu is not None:
        argv = ["taskset", "-c", cpu, *argv]
    out = subprocess.run(
        argv, capture_output=True, text=True, check=True, timeout=duration_seconds + 30
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    return rps, p50, p99, errors


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
def haproxy(backends: list[int], cpu: str | None) -> Iterator[int]:
    binary = h.require("haproxy")
    with tempfile.TemporaryDirectory(prefix="livesite-bench-haproxy-") as tmp:
        port = h.free_port()
        conf = Path(tmp) / "haproxy.cfg"
        conf.write_text(haproxy_config(port, backends))
        argv = [binary, "-f", str(conf), "-db"]
        proc = h.spawn(["taskset", "-c", cpu, *argv] if cpu else argv, Path(tmp) / "out.log")
        try:
            h.wait_for_port(port, proc=proc)
            yield port
        finally:
            h.stop(proc)


@contextlib.contextmanager
def livesite_router(backends: list[int], cpu: str | None) -> Iterator[int]:
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
            yield port
        finally:
            h.stop(proc)


def haproxy_version() -> str:
    out = subprocess.run([h.require("haproxy"), "-v"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "haproxy (unknown version)"


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
    print(
        f"load average before: {h.load_average()}; pinning: {'proxy on CPU 1, wrk and nginx on CPU 0' if pin else 'none'}"
    )
    runs: list[Run] = []
    with contextlib.ExitStack() as stack:
        nginx = stack.enter_context(h.nginx(port_count=2))
        if pin:
            for pid in nginx.pids:
                subprocess.run(["taskset", "-pc", "0", str(pid)], capture_output=True, check=False)
        backends = nginx.ports
        # All three up at once and taken in turn, round after round: a burst of load from the other
        # work on this machine then hits every contender alike, and the best round of each is kept.
        ports = {
            "direct": backends[0],
            "haproxy": stack.enter_context(haproxy(backends, proxy_cpu)),
            "livesite": stack.enter_context(livesite_router(backends, proxy_cpu)),
        }
        for port in ports.values():  # warm-up: pools filled, code paths hot
            wrk(
                f"http://127.0.0.1:{port}{h.PATH}",
                connections=args.connections,
                duration_seconds=1,
                close=False,
                cpu=load_cpu,
            )
        for round_number in range(1, args.rounds + 1):
            for mode, connections, close, seconds in (
                ("keep-alive", args.connections, False, args.duration),
                ("new-connection", args.connections, True, args.duration),
                ("one-connection", 1, False, args.single_duration),
            ):
                for name, port in ports.items():
                    rps, p50, p99, errors = wrk(
                        f"http://127.0.0.1:{port}{h.PATH}",
                        connections=connections,
                        duration_seconds=seconds,
                        close=close,
                        cpu=load_cpu,
                    )
                    runs.append(Run(name, mode, rps, p50, p99, errors))
                    print(
                        f"round {round_number}  {name:9} {mode:15} {h.fmt(rps):>8} req/s  p50 {p50:6.2f} ms"
                        f"  p99 {p99:6.2f} ms" + (f"  errors {errors}" if errors else ""),
                        flush=True,
                    )
    print(f"load average after: {h.load_average()}")

    def get(contender: str, mode: str) -> Run:
        """The best round: highest req/s; for one connection, lowest p99 (the least disturbed)."""
        mine = [r for r in runs if r.contender == contender and r.mode == mode]
        if mode == "one-connection":
            return min(mine, key=lambda r: r.p99_ms)
        return max(mine, key=lambda r: r.requests_per_second)

    print("best round of each:")
    for mode in ("keep-alive", "new-connection", "one-connection"):
        for name in ("direct", "haproxy", "livesite"):
            r = get(name, mode)
            print(
                f"  {name:9} {mode:15} {h.fmt(r.requests_per_second):>8} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms"
            )
    if any(r.errors for r in runs):
        print(f"errors: {sum(r.errors for r in runs)} (non-2xx or socket errors; see above)")

    ka = get("livesite", "keep-alive").requests_per_second / get("haproxy", "keep-alive").requests_per_second
    nc = (
        get("livesite", "new-connection").requests_per_second
        / get("haproxy", "new-connection").requests_per_second
    )
    direct = get("direct", "one-connection")
    ours, peer = get("livesite", "one-connection"), get("haproxy", "one-connection")
    print(
        f"one hop adds (one connection, vs direct): livesite p50 {ours.p50_ms - direct.p50_ms:+.3f} ms, "
        f"p99 {ours.p99_ms - direct.p99_ms:+.3f} ms; haproxy p50 {peer.p50_ms - direct.p50_ms:+.3f} ms, "
        f"p99 {peer.p99_ms - direct.p99_ms:+.3f} ms"
    )
    print(
        f"router: livesite {h.fmt(get('livesite', 'keep-alive').requests_per_second)} req/s vs haproxy "
        f"{h.fmt(get('haproxy', 'keep-alive').requests_per_second)} req/s keep-alive → ratio {ka:.2f}×; "
        f"new connection per request ratio {nc:.2f}×; p99 added {ours.p99_ms - direct.p99_ms:+.3f} ms"
    )


if __name__ == "__main__":
    main()
