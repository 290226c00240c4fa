"""What a toxic sees of one stream of one connection: chunks in, chunks out, and a way to close.

A toxic reads a chunk, which the stub then *holds* until the toxic forwards or drops it. When a
toxic is taken off a live connection, its stage is cancelled wherever it waits and the stub sends
on whatever it still holds, so removing a toxic never loses bytes (Toxiproxy does the same).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Chunk:
    """Bytes read from one side, and when (event-loop time) they became ready to go on."""

    data: bytes
    at: float


@dataclass(frozen=True, slots=True)
class Close:
    """The end of a stream. ``reset`` ends both sides with a TCP RST instead of a FIN."""

    reset: bool = False


Item = Chunk | Close
Output = Callable[[Item], None]


class Stub:
    """One toxic's place in one stream: an inbox it reads and an output it writes.

    ``output`` is looked up on every write, so the stream can be rewired while a toxic runs.
    """

    __slots__ = ("closed", "eof", "held", "inbox", "output", "passed_bytes", "release", "rng")

    def __init__(self, output: Output, rng: random.Random, release: Callable[[int], None]) -> None:
        self.inbox: asyncio.Queue[Item] = asyncio.Queue()
        self.output = output
        self.rng = rng
        self.release = release  # bytes that leave the stream without reaching the far side
        self.held: Chunk | None = None
        self.eof: Close | None = None
        self.closed = False
        self.passed_bytes = 0

    async def read(self) -> Chunk | None:
        """The next chunk, now held by this stub; None at the end of the stream."""
        item = await self.inbox.get()
        if isinstance(item, Close):
            self.eof = item
            return None
        self.held = item
        return item

    def forward(self, size: int | None = None) -> None:
        """Send the first ``size`` bytes of the held chunk on (all of it by default)."""
        held = self.held
        if held is None or (size is not None and size <= 0):
            return
        if size is None or size >= len(held.data):
            self.held = None
            self.passed_bytes += len(held.data)
            self.output(held)
            return
        self.passed_bytes += size
        self.output(Chunk(held.data[:size], held.at))
        held.data = held.data[size:]

    def drop(self) -> None:
        """Throw the held chunk away."""
        if self.held is not None:
            self.release(len(self.held.data))
            self.held = None

    def close(self, reset: bool = False) -> None:
        """End the stream here; both sides of the connection close (with an RST when ``reset``)."""
        if self.closed:
            return
        self.drop()
        self.closed = True
        self.output(Close(reset=reset or (self.eof is not None and self.eof.reset)))
