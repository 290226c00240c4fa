"""Connect, and optionally handshake TLS, with each phase timed: what the tcp and tls kinds share."""

from __future__ import annotations

import asyncio
import ssl
import time

from livesite.checks.context import RunContext
from livesite.config.models import TlsSettings
from livesite.net.errors import ProbeError
from livesite.results import FailureKind

READ_LIMIT = 64 * 1024


class Stream(asyncio.Protocol):
    """Bytes a peer sends, bounded, with an event to wait on."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.closed = False
        self.changed = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        room = READ_LIMIT - len(self.received)
        self.received += data[:room]
        if len(self.received) >= READ_LIMIT and self.transport is not None:
            self.transport.pause_reading()  # enough to judge a greeting; never buffer without end
        self.changed.set()

    def eof_received(self) -> bool | None:
        self.closed = True
        self.changed.set()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.changed.set()

    async def wait(self) -> None:
        self.changed.clear()
        await self.changed.wait()


async def connect(
    ctx: RunContext, host: str, ip: str, port: int, tls: TlsSettings | None
) -> tuple[asyncio.Transport, Stream]:
    """An open connection to ip:port (TLS-wrapped when ``tls`` is given); aborted on any failure."""
    loop = asyncio.get_running_loop()
    progress = ctx.progress
    t1 = time.perf_counter()
    stream = Stream()
    try:
        transport, _ = await loop.create_connection(lambda: stream, ip, port)
    except OSError as e:
        raise ProbeError(FailureKind.connect, f"cannot connect to {ip}:{port}: {e.strerror or e}") from None
    t2 = time.perf_counter()
    progress.connect = t2 - t1
    if tls is None:
        return transport, stream
    progress.phase = "tls"
    try:
        wrapped = await loop.start_tls(
            transport, stream, ctx.resources.ssl_context(tls), server_hostname=tls.server_name or host
        )
    except ssl.SSLCertVerificationError as e:
        transport.abort()
        progress.tls = time.perf_counter() - t2  # a failed handshake's time is the tls phase's
        raise ProbeError(
            FailureKind.tls, f"certificate of {host}:{port} not trusted: {e.verify_message}"
        ) from None
    except (ssl.SSLError, ConnectionError) as e:
        transport.abort()
        progress.tls = time.perf_counter() - t2
        raise ProbeError(FailureKind.tls, f"TLS handshake with {host}:{port} failed: {e}") from None
    except BaseException:  # cancelled by the check's deadline: do not leak the socket
        transport.abort()
        progress.tls = time.perf_counter() - t2
        raise
    progress.tls = time.perf_counter() - t2
    if wrapped is None:
        transport.abort()
        raise ProbeError(FailureKind.tls, f"the TLS handshake with {host}:{port} did not complete")
    stream.transport = wrapped
    return wrapped, stream


def ip_protocol(transport: asyncio.BaseTransport) -> int:
    peer = transport.get_extra_info("peername")
    return 6 if peer and len(peer) > 2 else 4
