"""The stress fault's own process: burn CPU, hold memory or fill a file — bounded, and gone by a deadline.

``python -m livesite.chaos.faults.burn cpu|memory|disk --until UNIX_TIME [...]``. It exits at the
deadline by itself (the fault's lease TTL), so a stress fault outlives neither its TTL nor a runner
killed with SIGKILL; SIGTERM ends it at once. A disk fill removes its file on the way out and never
writes past ``--keep-free`` megabytes of free space.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import sys
import time
from pathlib import Path

MB = 1024 * 1024


def _spin(until: float, duty: float) -> None:
    while time.time() < until:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.01 * duty:
            pass
        if duty < 1:
            time.sleep(0.01 * (1 - duty))


def cpu(cores: float, until: float) -> None:
    whole, part = int(cores), cores - int(cores)
    shares = [1.0] * whole + ([part] if part > 0.01 else [])
    workers = [multiprocessing.Process(target=_spin, args=(until, share), daemon=True) for share in shares]
    for w in workers:
        w.start()
    try:
        for w in workers:
            w.join()
    finally:
        for w in workers:
            w.terminate()


def memory(megabytes: int, until: float) -> None:
    held = bytearray(megabytes * MB)
    for i in range(0, len(held), 4096):  # touch every page so it is really resident
        held[i] = 1
    while time.time() < until:
        time.sleep(0.2)


def disk(path: Path, megabytes: int, keep_free: int, until: float) -> None:
    chunk = b"\0" * MB
    try:
        with path.open("wb") as out:
            for _ in range(megabytes):
                if shutil.disk_usage(path.parent).free < (keep_free + 1) * MB or time.time() >= until:
                    break
                out.write(chunk)
                out.flush()
            os.fsync(out.fileno())
        while time.time() < until:
            time.sleep(0.2)
    finally:
        path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livesite-burn")
    parser.add_argument("resource", choices=["cpu", "memory", "disk"])
    parser.add_argument("--until", type=float, required=True)
    parser.add_argument("--cores", type=float, default=1.0)
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--path", type=Path)
    parser.add_argument("--keep-free", type=int, default=512)
    parser.add_argument(
        "--token", default="", help="the fault's lease token: how a revert finds this process"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # unwinds, so a disk fill removes its file
    if args.resource == "cpu":
        cpu(args.cores, args.until)
    elif args.resource == "memory":
        memory(args.megabytes, args.until)
    else:
        disk(args.path, args.megabytes, args.keep_free, args.until)
    return 0


if __name__ == "__main__":
    sys.exit(main())
