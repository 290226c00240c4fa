"""Stopping on SIGINT / SIGTERM with an event, so the work in progress can end in order."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """An event set by Ctrl-C or SIGTERM while the block runs; the handlers go with the block."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in _STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in _STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def wait_for_ctrl_c() -> None:
    with stop_on_signals() as stop:
        await stop.wait()
