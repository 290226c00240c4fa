"""What counts as left behind: a fault lease past its TTL, or held by a runner of this host that died.

A lease of a live runner is never touched here (``halt`` is the way to stop those).
"""

from __future__ import annotations

import socket

import psutil

from livesite.chaos.leases import FaultBook, Held


def _dead(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    return host == socket.gethostname() and pid.isdigit() and not psutil.pid_exists(int(pid))


async def left_behind(book: FaultBook) -> tuple[list[Held], list[str]]:
    """Revert the faults whose runner is gone; (reverted, errors)."""
    now = book.clock.time()
    orphans = [h.lease.holder for h in await book.held() if h.lease.expired(now) or _dead(h.lease.holder)]
    if not orphans:
        return [], []
    return await book.recover(holders=orphans)
