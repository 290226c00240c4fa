"""The fault proxy with no toxics vs HAProxy (tcp mode, 1 thread) vs direct, under wrk, to nginx.

Load: wrk (1 thread) to nginx's small static answer, through each contender in turn, rounds
interleaved so that a noisy neighbour hurts all alike; the median round is reported.
- keep-alive: ``--connections`` connections reused;
- new connection per request: ``Connection: close`` (nginx closes after each answer);
- one connection (keep-alive, -c1): the latency one hop adds, p50 and p99 minus direct's, which
  under saturation on 2 cores would measure CPU contention instead (ANCHORS.md).
Then the toxics' accuracy: the latency toxic (asked vs the median added round trip over a single
connection) and the bandwidth toxic (asked vs bytes/s of a download through it).

Prints one line per figure and ends with the ratio line:
``fault_proxy: keep-alive X× HAProxy's req/s, new-conn Y×, p50 added Z µs (HAProxy W µs)``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import cpu_seconds, free_port, nginx, require, spawn, stop, wait_for_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    rps: float
    p50_us: float
    p99_us: float
    cpu_seconds: float  # of the contender's process, during the run


_UNITS = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}


def _latency(text: str, pct: str) -> float:
    m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def wrk(url: str, connections: int, seconds: float, close: bool, pid: int | None) -> Run:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    if close:
        argv[1:1] = ["-H", "Connection: close"]
    before = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(pid) - before if pid else 0.0
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    if errors and "Non-2xx" in errors.group(0):
        raise RuntimeError(f"wrk saw errors through {url}:\n{out}")
    return Run(float(rps.group(1)) if rps else 0.0, _latency(out, "50"), _latency(out, "99"), used)


HAPROXY_CFG = """
global
    nbthread 1
    maxconn 4000
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend f
    bind 127.0.0.1:{listen}
    default_backend b
backend b
    server s1 127.0.0.1:{upstream}
"""


@contextlib.contextmanager
def haproxy(upstream: int, tmp: Path) -> Iterator[tuple[int, int]]:
    binary = require("haproxy")
    listen = free_port()
    cfg = tmp / "haproxy.cfg"
    cfg.write_text(HAPROXY_CFG.format(listen=listen, upstream=upstream))
    proc = spawn([binary, "-f", str(cfg), "-db"], tmp / "haproxy.log")
    try:
        wait_for_port(listen, proc=proc)
        yield listen, proc.pid
    finally:
        stop(proc)


def api(base: str, method: str, path: str, body: object | None = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


@contextlib.contextmanager
def fault_proxy(tmp: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = spawn(
        [
            sys.executable,
            "-m",
            "livesite.cli.main",
            "chaos",
            "proxy",
            "--api",
            f"127.0.0.1:{port}",
            "--seed",
            "1",
        ],
        tmp / "faultproxy.log",
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )
    try:
        wait_for_port(port, timeout_seconds=60, proc=proc)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        stop(proc)


# -- toxic accuracy, measured from a client in this process
async def _rtt_median(port: int, samples: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        writer.write(b"x")
        await reader.readexactly(1)
        times.append(time.perf_counter() - start)
    writer.close()
    return statistics.median(times)


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _blast(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    size = int((await reader.readline()).strip())
    block = b"\0" * 65536
    while size > 0:
        writer.write(block[: min(size, len(block))])
        size -= len(block)
        await writer.drain()
    writer.close()


async def _download_rate(port: int, size: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    writer.write(f"{size}\n".encode())
    got = 0
    while chunk := await reader.read(1 << 20):
        got += len(chunk)
    writer.close()
    return got / (time.perf_counter() - start)


async def toxic_accuracy(base: str, samples: int, bandwidth_seconds: float) -> list[str]:
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    blast = await asyncio.start_server(_blast, "127.0.0.1", 0)
    echo_port, blast_port = (s.sockets[0].getsockname()[1] for s in (echo, blast))
    lines = []
    try:
        created = await asyncio.to_thread(
            api, base, "POST", "/proxies", {"name": "lat", "upstream": f"127.0.0.1:{echo_port}"}
        )
        lat_port = int(created["listen"].rsplit(":", 1)[1])  # type: ignore[index]
        base_rtt = await _rtt_median(lat_port, samples)
        for asked_ms in (5, 20, 100):
            await asyncio.to_thread(
                api,
                base,
                "POST",
                "/proxies/lat/toxics",
                {"name": "l", "type": "latency", "attributes": {"latency": asked_ms}},
            )
            added_ms = (await _rtt_median(lat_port, samples) - base_rtt) * 1000
            await asyncio.to_thread(api, base, "DELETE", "/proxies/lat/toxics/l")
            lines.append(
                f"latency toxic: asked {asked_ms} ms, measured +{added_ms:.2f} ms ({added_ms / asked_ms:.3f}×)"
            )
        created = await asyncio.to_thread(
            api, base, "POST", "/proxies", {"name": "bw", "upstream": f"127.0.0.1:{blast_port}"}
        )
        bw_port = int(created["listen"].rsplit(":", 1)[1])  # type: ignore[index]
        for rate_kb in (100, 1000, 10000):
            await asyncio.to_thread(
                api,
                base,
                "POST",
                "/proxies/bw/toxics",
                {"name": "b", "type": "bandwidth", "attributes": {"rate": rate_kb}},
            )
            measured = await _download_rate(bw_port, int(rate_kb * 1000 * bandwidth_seconds))
            await asyncio.to_thread(api, base, "DELETE", "/proxies/bw/toxics/b")
            lines.append(
                f"bandwidth toxic: asked {rate_kb} KB/s, measured {measured / 1000:.0f} KB/s ({measured / 1000 / rate_kb:.3f}×)"
            )
    finally:
        echo.close()
        blast.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="per wrk run (default 4)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; the median is kept (default 3)"
    )
    parser.add_argument(
        "--samples", type=int, default=30, help="round trips per latency-toxic figure (default 30)"
    )
    parser.add_argument(
        "--bandwidth-seconds",
        type=float,
        default=2.0,
        help="seconds of data per bandwidth figure (default 2)",
    )
    args = parser.parse_args()
    require("wrk")
    with nginx(port_count=3) as target, tempfile.TemporaryDirectory(prefix="livesite-bench-fp-") as tmpdir:
        tmp = Path(tmpdir)
        direct_port, ha_up, fp_up = target.ports
        with haproxy(ha_up, tmp) as (ha_port, ha_pid), fault_proxy(tmp) as (base, fp_pid):
            created = api(base, "POST", "/proxies", {"name": "bench", "upstream": f"127.0.0.1:{fp_up}"})
            fp_port = int(created["listen"].rsplit(":", 1)[1])  # type: ignore[index]
            contenders = {
                "direct": (direct_port, None),
                "haproxy": (ha_port, ha_pid),
                "livesite": (fp_port, fp_pid),
            }
            print(
                f"load: wrk 1 thread; {args.connections} connections; {args.seconds:g} s per run; {args.rounds} rounds; "
                f"nginx 1 worker; {subprocess.run(['haproxy', '-v'], capture_output=True, text=True).stdout.splitlines()[0]}"
            )
            results: dict[tuple[str, str], list[Run]] = {}
            modes = {
                "keep-alive": (args.connections, False),
                "new-conn": (args.connections, True),
                "one-conn": (1, False),
            }
            for _ in range(args.rounds):
                for mode, (conns, close) in modes.items():
                    for name, (port, pid) in contenders.items():
                        run = wrk(f"http://127.0.0.1:{port}/health", conns, args.seconds, close, pid)
                        results.setdefault((mode, name), []).append(run)

            def median(mode: str, name: str) -> Run:
                runs = sorted(results[(mode, name)], key=lambda r: r.rps)
                return runs[len(runs) // 2]

            for mode in modes:
                for name in contenders:
                    r = median(mode, name)
                    per_cpu = (
                        f", {r.rps * args.seconds / r.cpu_seconds:,.0f} req/CPU-s" if r.cpu_seconds else ""
                    )
                    print(
                        f"{mode:10} {name:8} {r.rps:>10,.0f} req/s  p50 {r.p50_us:8.1f} µs  p99 {r.p99_us:9.1f} µs{per_cpu}"
                    )
            one = {name: median("one-conn", name) for name in contenders}
            added = {
                n: (one[n].p50_us - one["direct"].p50_us, one[n].p99_us - one["direct"].p99_us)
                for n in ("haproxy", "livesite")
            }
            for n, (p50, p99) in added.items():
                print(
                    f"one hop ({n}): +{p50:.1f} µs at p50, +{p99:.1f} µs at p99 over direct (single connection)"
                )
            for line in asyncio.run(toxic_accuracy(base, args.samples, args.bandwidth_seconds)):
                print(line)

            def ratio(mode: str, per_cpu: bool) -> float:
                ours, theirs = median(mode, "livesite"), median(mode, "haproxy")
                if per_cpu:
                    return (ours.rps / ours.cpu_seconds) / (theirs.rps / theirs.cpu_seconds)
                return ours.rps / theirs.rps

            print(
                f"fault_proxy: keep-alive {ratio('keep-alive', False):.2f}× HAProxy's req/s "
                f"({ratio('keep-alive', True):.2f}× per CPU-s), new-conn {ratio('new-conn', False):.2f}× "
                f"({ratio('new-conn', True):.2f}× per CPU-s), p50 added {added['livesite'][0]:.0f} µs "
                f"(HAProxy {added['haproxy'][0]:.0f} µs)"
            )


if __name__ == "__main__":
    main()
