"""Toxiproxy's toxics: each is its attributes (a strict model) and one method, ``pipe``.

``pipe`` runs for one stream of one connection: it reads chunks from its stub and forwards, delays,
slices, drops or closes them, and ends by closing the stub. Attribute names, units and defaults are
Toxiproxy's (milliseconds, KB/s, bytes; slicer's delay in microseconds), so a Toxiproxy client's
JSON means the same here. Unlike Toxiproxy, attributes are validated: unknown keys, negative values
and wrong types are refused when the toxic is created (400), not discovered on a live connection.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Mapping
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from livesite.dataplane.faultproxy.stub import Stub

MAX_MS = 86_400_000  # a day: beyond it a toxic is a mistake, not a fault
MAX_BYTES = 1 << 50
# A bandwidth toxic woken late (a busy loop, a slow sender) may send up to this much time's worth
# at once to catch up, so the rate over a second stays what was asked instead of losing every lag.
CATCH_UP_SECONDS = 0.02


class Toxic(Protocol):
    """The one method every toxic has (Toxiproxy's ``Pipe``)."""

    async def pipe(self, stub: Stub) -> None: ...


@runtime_checkable
class CleansUp(Protocol):
    """An optional power: what a toxic does to a live stream when it is removed."""

    def cleanup(self, stub: Stub) -> None: ...


class Attributes(BaseModel):
    """Attributes shared rules: strict JSON types, no unknown keys, Toxiproxy's zero defaults."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    type_name: ClassVar[str]

    @abstractmethod
    async def pipe(self, stub: Stub) -> None:
        """Carry the stream from ``stub``'s input to its output, doing to it what this toxic does."""


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


async def _sleep_until(when: float) -> None:
    delay = when - _loop_time()
    if delay > 0:
        await asyncio.sleep(delay)


class Noop(Attributes):
    """Passes everything through; what a toxic is on a connection its toxicity did not pick."""

    type_name: ClassVar[str] = "noop"

    async def pipe(self, stub: Stub) -> None:
        while await stub.read() is not None:
            stub.forward()
        stub.close()


class Latency(Attributes):
    """Delays each chunk by ``latency`` ± ``jitter`` ms, counted from when it was read (so chunks
    in flight overlap, as on a long link, instead of queueing their delays)."""

    type_name: ClassVar[str] = "latency"
    latency: int = Field(default=0, ge=0, le=MAX_MS)
    jitter: int = Field(default=0, ge=0, le=MAX_MS)

    async def pipe(self, stub: Stub) -> None:
        while (chunk := await stub.read()) is not None:
            delay_ms = self.latency
            if self.jitter > 0:
                delay_ms += stub.rng.randrange(-self.jitter, self.jitter)
            release = chunk.at + max(delay_ms, 0) / 1000
            await _sleep_until(release)
            chunk.at = max(release, chunk.at)
            stub.forward()
        stub.close()


class Bandwidth(Attributes):
    """Limits the stream to ``rate`` KB/s (1 KB = 1000 bytes, Toxiproxy's unit); 0 = unlimited."""

    type_name: ClassVar[str] = "bandwidth"
    rate: int = Field(default=0, ge=0, le=MAX_BYTES)

    async def pipe(self, stub: Stub) -> None:
        free_at = _loop_time()  # when the link has sent everything so far
        while (chunk := await stub.read()) is not None:
            if self.rate <= 0:
                stub.forward()
                continue
            per_second = self.rate * 1000
            slice_bytes = max(self.rate * 100, 1)  # 100 ms worth, as Toxiproxy slices big chunks
            while stub.held is not None:
                size = min(slice_bytes, len(chunk.data))
                free_at = max(free_at, _loop_time() - CATCH_UP_SECONDS) + size / per_second
                await _sleep_until(free_at)
                stub.forward(size)
        stub.close()


class SlowClose(Attributes):
    """Delays the close of the stream by ``delay`` ms; data passes as usual."""

    type_name: ClassVar[str] = "slow_close"
    delay: int = Field(default=0, ge=0, le=MAX_MS)

    async def pipe(self, stub: Stub) -> None:
        while await stub.read() is not None:
            stub.forward()
        await asyncio.sleep(self.delay / 1000)
        stub.close()


class Timeout(Attributes):
    """Stops all data and closes the connection after ``timeout`` ms; 0 holds it (and drops the data)
    until the toxic is removed, which then closes the connection."""

    type_name: ClassVar[str] = "timeout"
    timeout: int = Field(default=0, ge=0, le=MAX_MS)

    async def pipe(self, stub: Stub) -> None:
        deadline = _loop_time() + self.timeout / 1000 if self.timeout > 0 else None
        try:
            async with asyncio.timeout_at(deadline):
                while await stub.read() is not None:
                    stub.drop()
        except TimeoutError:
            pass
        stub.close()

    def cleanup(self, stub: Stub) -> None:
        stub.close()


class ResetPeer(Attributes):
    """On the first data, waits ``timeout`` ms and then resets the connection (TCP RST); the data
    is dropped."""

    type_name: ClassVar[str] = "reset_peer"
    timeout: int = Field(default=0, ge=0, le=MAX_MS)

    async def pipe(self, stub: Stub) -> None:
        await stub.read()
        stub.drop()
        await asyncio.sleep(self.timeout / 1000)
        stub.close(reset=True)


class Slicer(Attributes):
    """Cuts each chunk into pieces of about ``average_size`` ± ``size_variation`` bytes, with ``delay``
    microseconds between pieces (Toxiproxy's unit for this one attribute)."""

    type_name: ClassVar[str] = "slicer"
    average_size: int = Field(default=1, ge=1, le=MAX_BYTES)
    size_variation: int = Field(default=0, ge=0, le=MAX_BYTES)
    delay: int = Field(default=0, ge=0, le=MAX_MS * 1000)

    async def pipe(self, stub: Stub) -> None:
        while await stub.read() is not None:
            while stub.held is not None:
                size = self.average_size
                if self.size_variation > 0:
                    size += stub.rng.randint(-self.size_variation, self.size_variation)
                stub.forward(max(size, 1))
                if stub.held is not None and self.delay > 0:
                    await asyncio.sleep(self.delay / 1_000_000)
        stub.close()


class LimitData(Attributes):
    """Closes the connection once ``bytes`` bytes have passed; the byte that would exceed it is cut."""

    type_name: ClassVar[str] = "limit_data"
    bytes: int = Field(default=0, ge=0, le=MAX_BYTES)

    async def pipe(self, stub: Stub) -> None:
        while await stub.read() is not None:
            stub.forward(max(self.bytes - stub.passed_bytes, 0))
            stub.drop()
            if stub.passed_bytes >= self.bytes:
                break
        stub.close()


TOXICS: Mapping[str, type[Attributes]] = {
    t.type_name: t for t in (Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData)
}


STREAMS = ("upstream", "downstream")


class ToxicEntry(BaseModel):
    """A toxic on a proxy: Toxiproxy's wrapper (name, type, stream, toxicity) around its attributes,
    plus our TTL: ``ttl_seconds`` after it was set, the toxic removes itself."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    type: str
    stream: str  # "upstream" (client → upstream) or "downstream" (upstream → client)
    toxicity: float
    attributes: Attributes
    ttl_seconds: float | None = None
    expires_at: float | None = None  # event-loop time
