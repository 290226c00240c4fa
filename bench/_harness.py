"""What the benchmarks share: loopback servers started as subprocesses, and per-process CPU and memory.

Every server binds 127.0.0.1 on a free port, runs in its own process group and is stopped in
``finally`` (SIGTERM to the group, SIGKILL after a grace period), so an interrupted run leaves
nothing behind. CPU is read from ``/proc/PID/stat`` (utime + stime, all threads) so that only the
measured process is counted, never the driver that loads it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")

# The same answer for every contender: a small JSON body and a revision header.
BODY = '{"ok":true,"service":"bench","version":"v1"}'
REVISION = "v1"
PATH = "/health"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, timeout_seconds: float = 15.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll until something accepts on 127.0.0.1:port.

    Raises:
        RuntimeError: the process exited or nothing listened within the timeout.
    """
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_seconds:g}s")


def require(binary: str) -> str:
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)
    if path is None:
        sys.exit(f"bench: {binary} is not installed (make system-deps installs it)")
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (all its threads), from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size right now, from /proc/PID/statm."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES


def peak_rss_bytes(pid: int) -> int:
    """High-water mark of the resident set (VmHWM), from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def stop(proc: subprocess.Popen[bytes], grace_seconds: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers. Harmless if already gone."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace_seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def spawn(argv: Sequence[str], log: Path, **kwargs: object) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group with stdout and stderr in ``log``."""
    out = log.open("wb")
    try:
        return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
            list(argv), stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )
    finally:
        out.close()


@dataclass(frozen=True)
class Nginx:
    proc: subprocess.Popen[bytes]
    ports: list[int]

    @property
    def pids(self) -> list[int]:
        """Master and workers."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [self.proc.pid, *(int(p) for p in children.read_text().split())]

    def url(self, index: int = 0, path: str = PATH) -> str:
        return f"http://127.0.0.1:{self.ports[index]}{path}"


def nginx_config(ports: Sequence[int], prefix: Path) -> str:
    servers = "\n".join(
        f"""
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            default_type application/json;
            add_header X-Version {REVISION} always;
            return 200 '{BODY}';
        }}
    }}"""
        for port in ports
    )
    return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 16384; }}
worker_rlimit_nofile 40000;
http {{
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{servers}
}}
"""


@contextlib.contextmanager
def nginx(port_count: int = 1) -> Iterator[Nginx]:
    """nginx (1 worker, access log off, keep-alive unbounded) answering ``BODY`` on ``port_count`` ports."""
    binary = require("nginx")
    with tempfile.TemporaryDirectory(prefix="livesite-bench-nginx-") as tmp:
        prefix = Path(tmp)
        ports = [free_port() for _ in range(port_count)]
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_config(ports, prefix))
        proc = spawn([binary, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"], prefix / "stdout.log")
        try:
            for port in ports:
                wait_for_port(port, proc=proc)
            yield Nginx(proc, ports)
        finally:
            stop(proc)


def blackbox_module(name: str) -> str:
    """One http module asserting what the livesite check asserts: 200, the JSON flag, the revision."""
    return f"""modules:
  {name}:
    prober: http
    timeout: 5s
    http:
      method: GET
      valid_status_codes: [200]
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      fail_if_body_not_matches_regexp:
        - '"ok":\\s*true'
      fail_if_header_not_matches:
        - header: X-Version
          regexp: '^{REVISION}$'
"""


@dataclass(frozen=True)
class Blackbox:
    proc: subprocess.Popen[bytes]
    port: int
    module: str
    version: str


def blackbox_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)
    return (out.stdout or out.stderr).splitlines()[0].strip()


@contextlib.contextmanager
def blackbox(module: str = "bench_http") -> Iterator[Blackbox]:
    binary = require("prometheus-blackbox-exporter")
    version = blackbox_version(binary)
    with tempfile.TemporaryDirectory(prefix="livesite-bench-blackbox-") as tmp:
        conf = Path(tmp) / "blackbox.yml"
        conf.write_text(blackbox_module(module))
        port = free_port()
        proc = spawn(
            [
                binary,
                f"--config.file={conf}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            Path(tmp) / "blackbox.log",
        )
        try:
            wait_for_port(port, proc=proc)
            yield Blackbox(proc, port, module, version)
        finally:
            stop(proc)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def fmt(n: float, digits: int = 0) -> str:
    return f"{n:,.{digits}f}"
