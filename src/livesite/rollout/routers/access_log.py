"""Per-backend counters from a JSON access log, read incrementally and in bounded memory.

Each line is one request as nginx's ``livesite_json`` format writes it: the upstream address(es) tried,
their statuses and response times (``"a, b"`` when nginx retried, ``"a : b"`` across upstream groups).
Every attempt counts for the backend it went to, so a connection refused by the canary and retried on
stable is an error of the canary and a request of both.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from livesite.rollout.routers.base import BackendStats, Latency

CHUNK_BYTES = 1024 * 1024
MAX_LINE_BYTES = 64 * 1024  # a longer "line" is not ours: it is skipped, never buffered without end
BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SPLIT = re.compile(r", | : ")


class Counters:
    """Running totals of one backend (what BackendStats is built from)."""

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.status: dict[str, int] = {}
        self.timed = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(BUCKETS_SECONDS) + 1)

    def add(self, status: str, seconds: float | None) -> None:
        self.requests += 1
        code = int(status) if status.isdigit() else 0
        klass = f"{code // 100}xx" if 100 <= code < 600 else "other"
        self.status[klass] = self.status.get(klass, 0) + 1
        if code >= 500 or code == 0:
            self.errors += 1
        if seconds is not None:
            self.timed += 1
            self.seconds += seconds
            index = next((i for i, le in enumerate(BUCKETS_SECONDS) if seconds <= le), len(BUCKETS_SECONDS))
            self.buckets[index] += 1

    def snapshot(self) -> BackendStats:
        cumulative, running = [], 0
        for le, n in zip(BUCKETS_SECONDS, self.buckets, strict=False):  # +Inf is `count`
            running += n
            cumulative.append((le, running))
        return BackendStats(
            requests=self.requests,
            errors=self.errors,
            status=dict(self.status),
            latency=Latency(
                count=self.timed,
                sum_seconds=self.seconds,
                mean_seconds=self.seconds / self.timed if self.timed else None,
                buckets=cumulative,
            ),
        )


class AccessLog:
    """Follows one log file: reads what was appended since the last call, survives rotation and truncation."""

    def __init__(self, path: Path, addresses: Mapping[str, str]) -> None:
        self.path = path
        self.by_address = {address: name for name, address in addresses.items()}
        self.counters = {name: Counters() for name in addresses}
        self.offset = 0
        self.inode: int | None = None
        self.partial = b""
        self.skipped = 0  # lines that were not ours (or too long): visible, not fatal

    def read(self) -> dict[str, BackendStats]:
        """Count what was appended since the last call (blocking file I/O: call it in a thread)."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return self.snapshot()  # nginx has not logged a request yet
        with handle:
            info = os.fstat(handle.fileno())
            if info.st_ino != self.inode or info.st_size < self.offset:
                self.inode, self.offset, self.partial = info.st_ino, 0, b""  # rotated or truncated
            handle.seek(self.offset)
            while chunk := handle.read(CHUNK_BYTES):
                self.offset += len(chunk)
                lines = (self.partial + chunk).split(b"\n")
                self.partial = lines.pop()
                if len(self.partial) > MAX_LINE_BYTES:
                    self.partial, self.skipped = b"", self.skipped + 1
                for line in lines:
                    self._count(line)
        return self.snapshot()

    def snapshot(self) -> dict[str, BackendStats]:
        return {name: c.snapshot() for name, c in self.counters.items()}

    def _count(self, line: bytes) -> None:
        try:
            entry = json.loads(line)
            addresses = _SPLIT.split(entry["addr"])
            statuses = _SPLIT.split(entry["ustatus"])
            times = _SPLIT.split(entry["urt"])
        except (ValueError, KeyError, TypeError, AttributeError):
            self.skipped += 1
            return
        for index, address in enumerate(addresses):
            name = self.by_address.get(address)
            if name is None:
                continue  # no upstream (nginx answered itself) or not one of ours
            status = statuses[index] if index < len(statuses) else "-"
            seconds = _seconds(times[index]) if index < len(times) else None
            self.counters[name].add(status, seconds)


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None
