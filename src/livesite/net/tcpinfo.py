"""The TCP handshake's time as the kernel measured it, which no event-loop delay can stretch.

A probe shares its event loop with every other check in flight. The loop learns that a connection
is open when it next polls, and the coroutine that opened it resumes later still, so either moment
can be far behind the handshake itself (50 checks on a busy machine once showed a 94 ms "connect" to
127.0.0.1). On Linux the kernel keeps its own round-trip sample in ``TCP_INFO``; right after the
handshake, before anything is sent, that sample is the SYN → SYN-ACK round trip.
"""

from __future__ import annotations

import asyncio
import socket
import struct

_TCP_INFO = getattr(socket, "TCP_INFO", None)  # Linux only
# struct tcp_info (linux/tcp.h): u32 tcpi_rtt (µs) at byte 68, u32 tcpi_total_retrans at byte 100.
_FIELDS = struct.Struct("=68xI28xI")
_TCP_INFO_BYTES = _FIELDS.size  # 104


def handshake_seconds(transport: asyncio.BaseTransport) -> float | None:
    """The TCP handshake's round trip as the kernel measured it, or None where it cannot tell.

    Read it right after connecting, before anything is sent: the only round-trip sample then is the
    SYN's. None off Linux, and when the SYN was retransmitted (the sample would leave out the wait).
    """
    sock = transport.get_extra_info("socket")
    if _TCP_INFO is None or sock is None:
        return None
    # Read through a bare C socket object on the transport's descriptor, detached at once: uvloop's
    # socket stand-in builds a full Python socket per call (and asking it for its family builds an
    # enum), which cost 2 µs more per probe. getsockopt acts on the descriptor alone; the family
    # given only shapes address handling, which this object never does.
    fd = sock.fileno()
    if fd < 0:
        return None  # closed already
    raw = socket.SocketType(socket.AF_INET, socket.SOCK_STREAM, 0, fd)
    try:
        info = raw.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _TCP_INFO_BYTES)
    except OSError:
        return None
    finally:
        raw.detach()  # the descriptor stays the transport's: this object must never close it
    if len(info) < _TCP_INFO_BYTES:
        return None
    rtt_us, retransmitted = _FIELDS.unpack_from(info)
    if rtt_us == 0 or retransmitted:
        return None
    return float(rtt_us) / 1e6


# Under this, the loop cannot have stretched the event-based figure by more than a rounding error of
# a real network's; over it, the kernel is asked. Reading it costs a system call (~9 µs a probe), which
# a probe to a nearby host on an idle loop does not need.
_TRUST_EVENT_SECONDS = 0.002


def connect_seconds(transport: asyncio.BaseTransport, started: float, connected_at: float) -> float:
    """How long the TCP handshake took: from ``started`` to ``connected_at`` (perf_counter, stamped in
    ``connection_made``) when that is short, else the kernel's own figure where it has one."""
    measured = connected_at - started
    if measured < _TRUST_EVENT_SECONDS:
        return measured
    handshake = handshake_seconds(transport)
    return handshake if handshake is not None else measured
