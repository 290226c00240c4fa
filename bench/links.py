"""Link checking: ``livesite links`` vs Debian's ``linkchecker`` on the same generated site, same run.

The site (``livesite.testing.sites.generate``) has ``--pages`` pages, each with a dozen or more links
and fragment links, and planted broken links and broken fragments; nginx serves it from a
world-readable directory (linkchecker run as root drops to ``nobody``) with a ``LinkChecker``
header, and linkchecker's config raises ``maxrequestspersecond``, so that neither tool is throttled
(ANCHORS.md). Each tool crawls from ``/index.html`` as a fresh process; the figure is the site's
pages over each process's wall time (start-up included, for both), and each must report exactly the
planted set: broken links as errors, broken fragments (linkchecker's AnchorCheck plugin: warnings).

    python bench/links.py                       # 3,000 pages, 20 broken links, 20 broken fragments
    python bench/links.py --pages 5000 --concurrency 32

Wall time on a machine shared with other work mostly measures the wait for a core, so pages per
CPU-second (the process's own user + system time, start-up included) is printed too. The last line:
``links: livesite X pages/s vs linkchecker Y pages/s → ratio R× (per CPU-second: ... → C×; same set: yes/yes)``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import _harness as h

from livesite.testing.sites import Site, generate

LINKCHECKER_RC = """[checking]
threads={threads}
maxrequestspersecond=100000
recursionlevel=-1

[filtering]
checkextern=0

[AnchorCheck]
"""


@dataclass(frozen=True)
class Run:
    name: str
    seconds: float
    cpu_seconds: float
    found: set[tuple[str, str]]

    def pages_per_second(self, pages: int) -> float:
        return pages / self.seconds

    def pages_per_cpu_second(self, pages: int) -> float:
        return pages / self.cpu_seconds


def _nginx_config(port: int, root: Path, prefix: Path) -> str:
    return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    include /etc/nginx/mime.types;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        add_header LinkChecker livesite-bench always;  # linkchecker stops throttling itself for this host
    }}
}}
"""


def _write_site(site: Site, root: Path) -> None:
    root.mkdir(parents=True)
    for directory in (root, *root.parents):
        if str(directory) == "/":
            break
        directory.chmod(
            directory.stat().st_mode | 0o755
        )  # linkchecker reads nothing, but nginx as nobody may
    for name, data in site.files.items():
        path = root / name
        path.write_bytes(data)
        path.chmod(0o644)


def _timed(
    argv: list[str], env: dict[str, str] | None = None
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, done


def _path(url: str, origin: str) -> str:
    return url.removeprefix(origin)


def _livesite(start: str, origin: str, concurrency: int) -> Run:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    argv = [
        sys.executable,
        "-m",
        "livesite.cli.main",
        "links",
        start,
        "--json",
        "--concurrency",
        str(concurrency),
    ]
    argv += ["--depth", "100", "--max-pages", "1000000", "--timeout", "1200"]
    seconds, cpu, done = _timed(argv, env)
    if done.returncode not in (0, 1):
        sys.exit(f"livesite links failed ({done.returncode}): {done.stderr[-2000:]}")
    document = json.loads(done.stdout)
    found = {(_path(b["page"], origin), _path(b["link"], origin)) for b in document["broken"]}
    return Run("livesite", seconds, cpu, found)


def _install_linkchecker() -> None:
    """Debian's linkchecker, installed on first use when we may (root); else ``require`` says how."""
    if shutil.which("linkchecker") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing linkchecker (apt-get install -y linkchecker) ...", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "linkchecker"],
            check=False,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )


def _linkchecker(start: str, origin: str, threads: int, tmp: Path) -> Run:
    binary = h.require("linkchecker")
    rc = tmp / "linkcheckerrc"
    rc.write_text(LINKCHECKER_RC.format(threads=threads))
    rc.chmod(0o644)
    seconds, cpu, done = _timed([binary, "-f", str(rc), "--no-status", "-o", "csv", start])
    if done.returncode not in (0, 1):
        sys.exit(f"linkchecker failed ({done.returncode}): {done.stderr[-2000:]}")
    rows = csv.DictReader(
        io.StringIO("".join(line for line in done.stdout.splitlines(True) if not line.startswith("#"))),
        delimiter=";",
    )
    found: set[tuple[str, str]] = set()
    for row in rows:
        broken_anchor = "Anchor `" in (row.get("warningstring") or "")
        if row.get("valid") == "False" or broken_anchor:
            # linkchecker names a page as it first reached it, fragment included: the page is without it.
            page = row["parentname"].split("#", 1)[0]
            found.add((_path(page, origin), _path(row["url"], origin)))
    return Run("linkchecker", seconds, cpu, found)


def _version() -> str:
    done = subprocess.run([h.require("linkchecker"), "--version"], capture_output=True, text=True)
    return done.stdout.splitlines()[0] if done.stdout else "linkchecker (version unknown)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--broken-links", type=int, default=20)
    parser.add_argument("--broken-fragments", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16, help="livesite's requests in flight")
    parser.add_argument("--threads", type=int, default=10, help="linkchecker's threads (its default: 10)")
    parser.add_argument("--no-peer", action="store_true", help="livesite only")
    args = parser.parse_args(argv)
    site = generate(
        args.pages, broken_links=args.broken_links, broken_fragments=args.broken_fragments, seed=11
    )
    planted = site.planted
    nginx = h.require("nginx")
    with tempfile.TemporaryDirectory(prefix="livesite-bench-links-") as name:
        tmp = Path(name)
        tmp.chmod(0o755)
        root = tmp / "www"
        _write_site(site, root)
        port = h.free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(_nginx_config(port, root, tmp))
        proc = h.spawn([nginx, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"], tmp / "nginx.log")
        try:
            h.wait_for_port(port, proc=proc)
            origin = f"http://127.0.0.1:{port}"
            start = f"{origin}/index.html"
            print(
                f"site: {site.pages} pages, {sum(len(d) for d in site.files.values()) // 1024} KiB, "
                f"{len(planted)} planted ({args.broken_links} broken links, {args.broken_fragments} broken fragments); "
                f"nginx 1 worker; livesite concurrency {args.concurrency}"
            )
            ours = _livesite(start, origin, args.concurrency)
            runs = [ours]
            if not args.no_peer:
                _install_linkchecker()
                print(f"peer: {_version()}, {args.threads} threads, AnchorCheck on")
                runs.append(_linkchecker(start, origin, args.threads, tmp))
        finally:
            h.stop(proc)
    for run in runs:
        same = run.found == planted
        print(
            f"{run.name}: {run.pages_per_second(site.pages):,.0f} pages/s ({run.seconds:.2f} s wall, "
            f"{run.cpu_seconds:.2f} CPU-s), found {len(run.found)}, exactly the planted set: {'yes' if same else 'NO'}"
        )
        if not same:
            print(f"  missed: {sorted(planted - run.found)[:10]}  extra: {sorted(run.found - planted)[:10]}")
    if len(runs) == 2:
        ours, peer = runs
        n = site.pages
        ratio = ours.pages_per_second(n) / peer.pages_per_second(n)
        cpu_ratio = ours.pages_per_cpu_second(n) / peer.pages_per_cpu_second(n)
        same = f"{'yes' if ours.found == planted else 'no'}/{'yes' if peer.found == planted else 'no'}"
        print(
            f"links: livesite {ours.pages_per_second(n):,.0f} pages/s vs linkchecker {peer.pages_per_second(n):,.0f} "
            f"pages/s → ratio {ratio:.1f}× (per CPU-second: {ours.pages_per_cpu_second(n):,.0f} vs "
            f"{peer.pages_per_cpu_second(n):,.0f} → {cpu_ratio:.1f}×; same set: {same})"
        )


if __name__ == "__main__":
    main()
