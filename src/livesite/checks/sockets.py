"""Connect, and optionally handshake TLS, with each phase timed: what the tcp and tls kinds share.

Phases are timed from socket events, not from when the awaiting coroutine is next scheduled, so 50
probes sharing a busy loop do not charge each other's work to "connect". On Linux, connect is the
kernel's own measure of the TCP handshake (``livesite.net.tcpinfo``, as the http kind takes it),
which no event-loop delay touches; elsewhere, or when a SYN was retransmitted (the sample would then
miss the wait), it ends when the protocol's ``connection_made`` runs. What remains is listed in
docs/checks.md, "Timing".
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time

from livesite.checks.certs import expired_reason, sent_chain
from livesite.checks.context import RunContext
from livesite.config.models import CheckBase, TlsSettings
from livesite.net.errors import CERT_HAS_EXPIRED, ProbeError
from livesite.net.tcpinfo import connect_seconds
from livesite.results import FailureKind

READ_LIMIT = 64 * 1024


class Stream(asyncio.Protocol):
    """Bytes a peer sends, bounded, with an event to wait on."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.closed = False
        self.changed = asyncio.Event()
        self.transport: asyncio.Transport | None = None
        self.connected_at = 0.0  # perf_counter when the connection was made

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connected_at = time.perf_counter()
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


def time_left(ctx: RunContext, spec: CheckBase) -> float:
    """Seconds until the frame's deadline for this run (the frame started ``ctx.progress``)."""
    timeout = spec.timeout if spec.timeout is not None else ctx.defaults.timeout
    return ctx.progress.started + timeout - time.perf_counter()


async def connect(
    ctx: RunContext, host: str, ip: str, port: int, tls: TlsSettings | None, *, time_left_seconds: float = 1.0
) -> tuple[asyncio.Transport, Stream]:
    """An open connection to ip:port (TLS-wrapped when ``tls`` is given); aborted on any failure.

    ``time_left_seconds`` bounds the extra handshake that reads an expired certificate's date.

    Raises:
        ProbeError: connect or tls, naming the address (and an expired certificate's notAfter).
    """
    loop = asyncio.get_running_loop()
    progress = ctx.progress
    stream = Stream()
    t1 = time.perf_counter()
    try:
        transport, _ = await loop.create_connection(lambda: stream, ip, port)
    except OSError as e:
        raise ProbeError(FailureKind.connect, f"cannot connect to {ip}:{port}: {e.strerror or e}") from None
    progress.connect = connect_seconds(transport, t1, stream.connected_at or time.perf_counter())
    if tls is None:
        return transport, stream
    progress.phase = "tls"
    # From here, not from connection_made: the wait for this coroutine's turn is neither phase's.
    t2 = time.perf_counter()
    server_name = tls.server_name or host
    try:
        wrapped = await loop.start_tls(
            transport, stream, ctx.resources.ssl_context(tls), server_hostname=server_name
        )
    except ssl.SSLCertVerificationError as e:
        transport.abort()
        progress.tls = time.perf_counter() - t2  # a failed handshake's time is the tls phase's
        where = f"{host}:{port}"
        if e.verify_code == CERT_HAS_EXPIRED:
            no_verify = ctx.resources.ssl_context(tls.model_copy(update={"verify": False}))
            chain = await peer_chain(ip, port, server_name, no_verify, time_left_seconds / 2)
            raise ProbeError(
                FailureKind.tls, expired_reason(where, chain, ctx.now()), verify_code=e.verify_code
            ) from None
        raise ProbeError(
            FailureKind.tls,
            f"certificate of {where} not trusted: {e.verify_message}",
            verify_code=e.verify_code,
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


async def peer_chain(
    ip: str, port: int, server_name: str, no_verify: ssl.SSLContext, limit_seconds: float
) -> list[bytes]:
    """The certificates a peer sends (DER, leaf first), read with a handshake that verifies nothing.

    Only for explaining a failed verification: the verifying handshake does not hand over the chain
    it refused. Never raises but for cancellation; gives ``[]`` if the peer cannot be read in time.
    """
    loop = asyncio.get_running_loop()
    transports: list[asyncio.Transport] = []
    try:
        async with asyncio.timeout(max(limit_seconds, 0.0) if math.isfinite(limit_seconds) else None):
            protocol = asyncio.Protocol()
            transport, _ = await loop.create_connection(lambda: protocol, ip, port)
            transports.append(transport)
            wrapped = await loop.start_tls(transport, protocol, no_verify, server_hostname=server_name)
            if wrapped is None:
                return []
            transports.append(wrapped)
            return sent_chain(wrapped.get_extra_info("ssl_object"))
    except (OSError, ssl.SSLError, TimeoutError):
        return []
    finally:
        for opened in reversed(transports):
            opened.abort()  # no close_notify wait: nothing more is read from it


def ip_protocol(transport: asyncio.BaseTransport) -> int:
    peer = transport.get_extra_info("peername")
    return 6 if peer and len(peer) > 2 else 4


def ip_protocol_of(ip: str) -> int:
    """4 or 6 for an IP address as text (what the resolver handed back)."""
    return 6 if ":" in ip else 4
