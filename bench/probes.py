"""Fresh-connection HTTP probes: livesite vs Prometheus blackbox_exporter, same target, same run.

Load: N probes (default 20,000) at a fixed concurrency (default 20) against a local nginx (1 worker,
access log off). Every probe opens a new TCP connection, sends one GET, and asserts status 200, a
JSON flag in the body and the ``X-Version`` header. Contenders, one after another:

- blackbox_exporter with an equivalent http module, driven over ``concurrency`` keep-alive
  connections to ``/probe``; a probe counts only if its body says ``probe_success 1``. Only the
  exporter's own CPU is counted (``/proc/PID/stat``), never the driver's.
- livesite in a child process: ``run_check`` with the assertions evaluated and every Result stored in
  SQLite through ``BatchWriter`` (the final flush is inside the measured time and CPU). CPU is the
  child's own ``getrusage(RUSAGE_SELF)``, all threads, measured around the probes only.
- "bare": a minimal stdlib asyncio checker in a child (open_connection, GET, read to EOF, check the
  status line and body) — the practical floor for Python on this loop, for context.

Prints the peer version, the load, and last the line
``probes: livesite X probes/CPU-s vs blackbox_exporter Y probes/CPU-s → ratio Z×``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

import httptools

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # bench/ is not a package: the sys.path line above makes this importable


@dataclass
class Run:
    """What one contender did, and what it cost."""

    name: str
    probes: int
    ok: int
    wall_seconds: float
    cpu_seconds: float
    failures: dict[str, int] = field(default_factory=dict)
    stored: int | None = None
    nginx_cpu_seconds: float | None = None

    @property
    def probes_per_second(self) -> float:
        return self.probes / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def probes_per_cpu_second(self) -> float:
        return self.probes / self.cpu_seconds if self.cpu_seconds else float("inf")

    @property
    def cpu_per_thousand(self) -> float:
        return self.cpu_seconds / self.probes * 1000 if self.probes else 0.0


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------------
# livesite (child process)

_CHECK_YAML = """
checks:
  - name: bench-probe
    url: {url}
    timeout: 5s
    assert:
      - status == 200
      - json.ok == true
      - header.X-Version == {revision}
"""


async def _livesite(url: str, requests: int, concurrency: int, warmup: int, db: Path) -> Run:
    from livesite.checks import RunContext, run_check
    from livesite.config import loads
    from livesite.results import Result
    from livesite.store import BatchWriter, open_store

    config = loads(_CHECK_YAML.format(url=url, revision=h.REVISION))
    spec = config.checks[0]
    ctx = RunContext(zone=config.zone("local"), defaults=config.defaults)
    store = await open_store(f"sqlite:///{db}")  # db is absolute: sqlite:////abs/path
    writer = BatchWriter(store)
    statuses: Counter[str] = Counter()
    reasons: Counter[str] = Counter()

    async def drive(count: int, keep: bool) -> None:
        left = count

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                result: Result = await run_check(spec, ctx)
                if keep:
                    statuses[result.status.value] += 1
                    if not result.passed:
                        reasons[result.reason()[:120]] += 1
                    writer.put(result)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    await drive(warmup, keep=False)
    cpu0, t0 = _cpu_self(), time.perf_counter()
    writer.start()
    await drive(requests, keep=True)
    await writer.close()  # flushes everything still buffered: part of the cost
    await store.close()
    wall, cpu = time.perf_counter() - t0, _cpu_self() - cpu0
    import sqlite3

    with contextlib.closing(sqlite3.connect(db)) as check_db:
        stored = int(check_db.execute("SELECT count(*) FROM results").fetchone()[0])
    return Run("livesite", requests, statuses["ok"], wall, cpu, dict(reasons), stored)


# ---------------------------------------------------------------------------------------------
# bare stdlib asyncio (child process)


async def _bare(url: str, requests: int, concurrency: int, warmup: int) -> Run:
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    request = f"GET {h.PATH} HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n\r\n".encode()
    want_body = h.BODY.encode()
    want_header = f"\r\nX-Version: {h.REVISION}\r\n".encode()
    failures: Counter[str] = Counter()
    ok = 0

    async def one() -> bool:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(request)
            data = await reader.read()  # to EOF: the server closes after answering
        finally:
            writer.close()
        return data.startswith(b"HTTP/1.1 200 ") and want_header in data and data.endswith(want_body)

    async def drive(count: int, keep: bool) -> None:
        nonlocal ok
        left = count

        async def worker() -> None:
            nonlocal left, ok
            while left > 0:
                left -= 1
                try:
                    passed = await asyncio.wait_for(one(), 5)
                except (OSError, TimeoutError) as e:
                    failures[type(e).__name__] += 1
                    continue
                if keep:
                    if passed:
                        ok += 1
                    else:
                        failures["unexpected answer"] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    await drive(warmup, keep=False)
    failures.clear()
    cpu0, t0 = _cpu_self(), time.perf_counter()
    await drive(requests, keep=True)
    return Run("bare asyncio", requests, ok, time.perf_counter() - t0, _cpu_self() - cpu0, dict(failures))


def _child_main(args: argparse.Namespace) -> None:
    from livesite.runtime import run as run_loop

    if args.role == "livesite":
        coro = _livesite(args.url, args.requests, args.concurrency, args.warmup, Path(args.db).resolve())
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            result = profiler.runcall(run_loop, coro)
            profiler.dump_stats(args.profile)
        else:
            result = run_loop(coro)
    else:
        result = run_loop(_bare(args.url, args.requests, args.concurrency, args.warmup))
    print(json.dumps(asdict(result)))


def _in_child(role: str, url: str, args: argparse.Namespace, nginx: h.Nginx, tmp: Path) -> Run:
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--role",
        role,
        "--url",
        url,
        "--requests",
        str(args.requests),
        "--concurrency",
        str(args.concurrency),
        "--warmup",
        str(args.warmup),
        "--db",
        str(tmp / f"{role}.db"),
    ]
    if args.profile and role == "livesite":
        argv += ["--profile", args.profile]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    nginx_cpu0 = sum(h.cpu_seconds(p) for p in nginx.pids)
    try:
        out, err = proc.communicate(timeout=_time_limit(args))
    finally:
        h.stop(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"the {role} child failed ({proc.returncode}):\n{err.decode(errors='replace')}")
    data = json.loads(out.decode().strip().splitlines()[-1])
    run = Run(**data)
    run.nginx_cpu_seconds = sum(h.cpu_seconds(p) for p in nginx.pids) - nginx_cpu0
    return run


def _time_limit(args: argparse.Namespace) -> float:
    """Generous: 100 probes/s would be 30x slower than blackbox here."""
    return 60.0 + float(args.requests + args.warmup) / 100


# ---------------------------------------------------------------------------------------------
# blackbox_exporter, driven from this process


class _KeepAliveClient(asyncio.Protocol):
    """One keep-alive connection to the exporter: one request in flight, the whole body read back."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body: list[bytes] = []
        self.done: asyncio.Future[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("the exporter closed the connection"))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(b"".join(self.body))

    async def get(self, request: bytes) -> bytes:
        assert self.transport is not None
        self.body = []
        self.done = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.done


async def _drive_blackbox(bb: h.Blackbox, target: str, args: argparse.Namespace) -> Run:
    loop = asyncio.get_running_loop()
    query = f"/probe?module={bb.module}&target={quote(target, safe='')}"
    request = f"GET {query} HTTP/1.1\r\nHost: 127.0.0.1:{bb.port}\r\n\r\n".encode()
    clients: list[_KeepAliveClient] = []
    for _ in range(args.concurrency):
        _, protocol = await loop.create_connection(_KeepAliveClient, "127.0.0.1", bb.port)
        clients.append(protocol)
    failures: Counter[str] = Counter()
    ok = 0

    async def drive(count: int, keep: bool) -> None:
        nonlocal ok
        left = count

        async def worker(client: _KeepAliveClient) -> None:
            nonlocal left, ok
            while left > 0:
                left -= 1
                body = await client.get(request)
                if not keep:
                    continue
                if b"\nprobe_success 1\n" in body:
                    ok += 1
                else:
                    reason = "regex" if b"probe_failed_due_to_regex 1" in body else "probe_success 0"
                    failures[reason] += 1

        await asyncio.gather(*(worker(c) for c in clients))

    try:
        async with asyncio.timeout(_time_limit(args)):
            await drive(args.warmup, keep=False)
            cpu0, t0 = h.cpu_seconds(bb.proc.pid), time.perf_counter()
            await drive(args.requests, keep=True)
            wall, cpu = time.perf_counter() - t0, h.cpu_seconds(bb.proc.pid) - cpu0
    finally:
        for client in clients:
            if client.transport is not None:
                client.transport.close()
    return Run("blackbox_exporter", args.requests, ok, wall, cpu, dict(failures))


# ---------------------------------------------------------------------------------------------
# report


def _line(run: Run) -> str:
    nginx = f", nginx {h.fmt(run.nginx_cpu_seconds, 2)} CPU-s" if run.nginx_cpu_seconds is not None else ""
    stored = f", stored {h.fmt(run.stored)} results" if run.stored is not None else ""
    failed = run.probes - run.ok
    failures = f" ({'; '.join(f'{k}: {v}' for k, v in run.failures.items())})" if run.failures else ""
    return (
        f"  {run.name:<18} {h.fmt(run.probes)} probes in {run.wall_seconds:.2f} s → "
        f"{h.fmt(run.probes_per_second)} probes/s; CPU {run.cpu_seconds:.2f} s → "
        f"{run.cpu_per_thousand:.3f} CPU-s per 1,000 probes = {h.fmt(run.probes_per_cpu_second)} probes/CPU-s; "
        f"passed {h.fmt(run.ok)}, failed {h.fmt(failed)}{failures}{stored}{nginx}"
    )


def _ratio(a: Run, b: Run) -> float:
    return a.probes_per_cpu_second / b.probes_per_cpu_second


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000, help="probes per contender (default 20,000)")
    parser.add_argument("--concurrency", type=int, default=20, help="probes in flight (default 20)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="uncounted probes per contender first (default N/40, max 500)",
    )
    parser.add_argument("--profile", help="write a cProfile of the livesite child to this .pstats file")
    parser.add_argument("--role", choices=["livesite", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = min(500, args.requests // 40)
    if args.role:
        _child_main(args)
        return

    from livesite.runtime import run as run_loop

    print(
        f"load: {h.fmt(args.requests)} fresh-connection HTTP GET probes per contender, concurrency "
        f"{args.concurrency}, {h.fmt(args.warmup)} uncounted warm-up probes first; target nginx "
        f"(1 worker, access_log off) on 127.0.0.1 answering {len(h.BODY)} bytes of JSON + X-Version; "
        "assertions: status 200, JSON ok flag, X-Version == v1"
    )
    print(f"machine: {os.cpu_count()} cores, load average before {h.load_average()}")
    with tempfile.TemporaryDirectory(prefix="livesite-bench-probes-") as tmp, h.nginx(port_count=3) as web:
        with h.blackbox() as bb:
            print(f"peer: {bb.version}")
            nginx_cpu0 = sum(h.cpu_seconds(p) for p in web.pids)
            peer = run_loop(_drive_blackbox(bb, web.url(0), args))
            peer.nginx_cpu_seconds = sum(h.cpu_seconds(p) for p in web.pids) - nginx_cpu0
        print(_line(peer), flush=True)
        ours = _in_child("livesite", web.url(1), args, web, Path(tmp))
        print(_line(ours), flush=True)
        bare = _in_child("bare", web.url(2), args, web, Path(tmp))
        print(_line(bare), flush=True)
    print(f"machine: load average after {h.load_average()}")
    if args.profile:
        import pstats

        print(f"profile of the livesite child (cProfile, by own time), written to {args.profile}:")
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(15)
    print(
        f"bare: stdlib asyncio {h.fmt(bare.probes_per_cpu_second)} probes/CPU-s vs blackbox_exporter "
        f"{h.fmt(peer.probes_per_cpu_second)} probes/CPU-s → ratio {_ratio(bare, peer):.2f}× "
        f"(livesite reaches {ours.probes_per_cpu_second / bare.probes_per_cpu_second:.0%} of bare)"
    )
    print(
        f"probes: livesite {h.fmt(ours.probes_per_cpu_second)} probes/CPU-s vs blackbox_exporter "
        f"{h.fmt(peer.probes_per_cpu_second)} probes/CPU-s → ratio {_ratio(ours, peer):.2f}×"
    )


if __name__ == "__main__":
    main()
