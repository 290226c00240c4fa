"""One proxied connection: two sides, and for each direction a chain of toxic stages.

With no toxic on a direction, bytes go straight from one transport to the other in
``data_received`` (the hot path, no task, no queue). With toxics, each one runs as a task over its
stub, chained by queues; the chain is rewired in place when a toxic is added, changed or removed,
so live connections feel the change as Toxiproxy's do. Backpressure: a side stops reading while the
other side's send buffer is full, or while more than ``HIGH_WATER_BYTES`` wait inside the toxics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
from collections.abc import Callable, Sequence
from typing import cast

from livesite.dataplane.faultproxy.stub import Chunk, Close, Item, Stub
from livesite.dataplane.faultproxy.toxics import CleansUp, Noop, Toxic, ToxicEntry

log = logging.getLogger(__name__)
HIGH_WATER_BYTES = 256 * 1024
LOW_WATER_BYTES = 64 * 1024
_NOOP = Noop()
_EOF = Close()

# Why a side is not reading: flags, because several can hold at once.
_CONNECTING, _PEER_FULL, _TOXICS_FULL = 1, 2, 4


class Stage:
    """A toxic running on one direction of one connection."""

    __slots__ = ("active", "entry", "stub", "task")

    def __init__(self, entry: ToxicEntry, stub: Stub) -> None:
        self.entry = entry
        self.stub = stub
        self.active = False
        self.task: asyncio.Task[None] | None = None

    def run(self) -> None:
        # Toxicity is rolled when the toxic starts on this connection (and again when it is changed).
        self.active = self.stub.rng.random() < self.entry.toxicity
        toxic: Toxic = self.entry.attributes if self.active else _NOOP
        self.task = asyncio.get_running_loop().create_task(toxic.pipe(self.stub))
        self.task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        # A toxic that fails must not leave its connection hanging: say so and reset it.
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("toxic %s failed, resetting its connection", self.entry.name, exc_info=error)
            self.stub.close(reset=True)

    async def interrupt(self) -> None:
        """Stop the toxic wherever it waits, and send on what it held (no byte is lost)."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.wait([self.task])
        if not self.stub.closed:
            self.stub.forward()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


class Side(asyncio.Protocol):
    """One socket of a connection: the client's or the upstream's."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.transport: asyncio.Transport | None = None
        self.peer: Side | None = None
        self.outgoing: Flow | None = None  # the flow this side's reads go into
        self.incoming: Flow | None = None  # the flow that writes to this side
        self.paused = 0
        self.lost = False
        self.early: list[bytes] = []  # read before the upstream was connected
        self.early_bytes = 0
        # The hot path: the peer's write, while no toxic sits on this side's outgoing flow.
        self.fast: Callable[[bytes], object] | None = None
        self.early_eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio.Transport, but have its methods. Both
        # loops set TCP_NODELAY on TCP transports already, so a proxy adds no Nagle delay.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        fast = self.fast
        if fast is not None:
            fast(data)
            return
        flow = self.outgoing
        if flow is None:  # the upstream is still being dialled: keep what the client already sent
            self.early.append(data)
            self.early_bytes += len(data)
            if self.early_bytes > HIGH_WATER_BYTES:
                self.pause(_CONNECTING)
            return
        if flow.stages:
            flow.feed(data)
        elif flow.dest.transport is not None and not flow.dest.lost:
            flow.dest.transport.write(data)

    def eof_received(self) -> bool:
        if self.outgoing is not None:
            self.outgoing.end(_EOF)
        else:
            self.early_eof = True
        return True  # keep writing to this side until the other direction ends too

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.peer is not None:
            self.peer.fast = None
        if self.outgoing is not None:
            self.outgoing.end(_EOF)
        self.connection.side_lost()

    def pause_writing(self) -> None:
        if self.incoming is not None:
            self.incoming.source.pause(_PEER_FULL)

    def resume_writing(self) -> None:
        if self.incoming is not None:
            self.incoming.source.resume(_PEER_FULL)

    def pause(self, reason: int) -> None:
        if not self.paused and self.transport is not None and not self.lost:
            self.transport.pause_reading()
        self.paused |= reason

    def resume(self, reason: int) -> None:
        was = self.paused
        self.paused &= ~reason
        if was and not self.paused and self.transport is not None and not self.lost:
            self.transport.resume_reading()

    def close(self, reset: bool) -> None:
        transport = self.transport
        if transport is None or self.lost:
            return
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()


class Flow:
    """One direction of one connection: source side → toxic stages → destination side."""

    def __init__(
        self,
        source: Side,
        dest: Side,
        rng: random.Random,
        entries: Sequence[ToxicEntry],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.source = source
        self.dest = dest
        self.rng = rng
        self.stages: list[Stage] = []
        self.queued_bytes = 0
        self.ended = False
        self.closed = False
        self.loop = loop
        for entry in entries:
            self.add(entry)

    # -- data
    def feed(self, data: bytes) -> None:
        self.queued_bytes += len(data)
        if self.queued_bytes > HIGH_WATER_BYTES:
            self.source.pause(_TOXICS_FULL)
        self._entry()(Chunk(data, self.loop.time()))

    def end(self, close: Close) -> None:
        if not self.ended:
            self.ended = True
            self.source.fast = None
            self._entry()(close)

    def _entry(self) -> Callable[[Item], None]:
        return self.stages[0].stub.inbox.put_nowait if self.stages else self.sink

    def sink(self, item: Item) -> None:
        if isinstance(item, Chunk):
            self.release(len(item.data))
            if self.dest.transport is not None and not self.dest.lost and not self.closed:
                self.dest.transport.write(item.data)
            return
        if self.closed:
            return
        self.closed = True
        if item.reset:
            self.dest.close(reset=True)
            self.source.close(reset=True)
        else:
            self.dest.close(reset=False)

    def release(self, size: int) -> None:
        if self.queued_bytes == 0:
            return  # bytes that went straight through, before a toxic was added
        self.queued_bytes = max(self.queued_bytes - size, 0)
        if self.queued_bytes < LOW_WATER_BYTES:
            self.source.resume(_TOXICS_FULL)

    # -- toxics, live
    def wire_fast_path(self) -> None:
        """Let the source write straight to the destination while no toxic is in between."""
        dest = self.dest.transport
        usable = (
            not self.stages and dest is not None and not self.dest.lost and not (self.ended or self.closed)
        )
        self.source.fast = dest.write if usable and dest is not None else None

    def add(self, entry: ToxicEntry) -> None:
        self.source.fast = None
        stage = Stage(entry, Stub(self.sink, self.rng, self.release))
        if self.stages:
            self.stages[-1].stub.output = stage.stub.inbox.put_nowait
        self.stages.append(stage)
        stage.run()

    async def update(self, entry: ToxicEntry) -> None:
        for stage in self.stages:
            if stage.entry.name == entry.name:
                await stage.interrupt()
                stage.entry = entry
                if not stage.stub.closed:
                    stage.run()
                return

    async def remove(self, name: str) -> None:
        index = next((i for i, s in enumerate(self.stages) if s.entry.name == name), None)
        if index is None:
            return
        stage = self.stages[index]
        await stage.interrupt()
        attributes = stage.entry.attributes
        if stage.active and not stage.stub.closed and isinstance(attributes, CleansUp):
            attributes.cleanup(stage.stub)  # e.g. a timeout closes what it held
        index = self.stages.index(stage)  # others may have moved while we waited
        # Whatever reached this stage since it stopped goes on, in order, before the chain is joined.
        inbox = stage.stub.inbox
        if not stage.stub.closed:
            while not inbox.empty():
                stage.stub.output(inbox.get_nowait())
        else:
            while not inbox.empty():
                item = inbox.get_nowait()
                if isinstance(item, Chunk):
                    self.release(len(item.data))
        if index > 0:
            self.stages[index - 1].stub.output = stage.stub.output
        del self.stages[index]
        if not self.stages:
            if self.queued_bytes:
                self.queued_bytes = 0
                self.source.resume(_TOXICS_FULL)
            self.wire_fast_path()

    def cancel(self) -> None:
        for stage in self.stages:
            stage.cancel()


class Connection:
    """A client's connection and the one the proxy dialled upstream for it."""

    def __init__(self, on_done: Callable[[Connection], None]) -> None:
        self.client = Side(self)
        self.upstream = Side(self)
        self.client.peer, self.upstream.peer = self.upstream, self.client
        self.flows: dict[str, Flow] = {}
        self.on_done = on_done
        self.done = False

    def start(
        self,
        upstream_transport: asyncio.Transport,
        rng: random.Random,
        chains: dict[str, list[ToxicEntry]],
    ) -> None:
        """Join the two sides once the upstream is connected, with the toxics the proxy has now."""
        loop = asyncio.get_running_loop()
        up = Flow(self.client, self.upstream, rng, chains["upstream"], loop)
        down = Flow(self.upstream, self.client, rng, chains["downstream"], loop)
        self.flows = {"upstream": up, "downstream": down}
        self.client.outgoing, self.upstream.incoming = up, up
        self.upstream.outgoing, self.client.incoming = down, down
        if self.client.early:
            for data in self.client.early:
                if up.stages:
                    up.feed(data)
                else:
                    upstream_transport.write(data)
            self.client.early.clear()
        if self.client.lost or self.client.early_eof:
            up.end(_EOF)
        up.wire_fast_path()
        down.wire_fast_path()
        self.client.resume(_CONNECTING)

    def abort(self) -> None:
        """Drop both sides now (the proxy is being disabled or deleted)."""
        for side in (self.client, self.upstream):
            if side.transport is not None and not side.lost:
                side.transport.abort()

    def side_lost(self) -> None:
        # A side that is gone ends the other too, once what is in flight towards it has left.
        if (self.client.lost and (self.upstream.lost or self.upstream.transport is None)) or (
            self.upstream.lost and self.client.lost
        ):
            self._finish()

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        for flow in self.flows.values():
            flow.cancel()
        self.on_done(self)
