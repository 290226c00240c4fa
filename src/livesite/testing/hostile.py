"""Routes of :class:`~livesite.testing.target.TargetServer` that attack the client instead of serving it.

Each is what a broken or malicious production server can do to a prober: send headers without end,
one header value without end, a byte per second, a status line without end, broken chunked framing,
impossible Content-Lengths, a gzip bomb, a body without end, or 103 Early Hints without end. They
write as fast as the client reads (or as slowly as asked) until the client hangs up or the server
shuts down; none of them ever completes a response.

    /header-flood [line=]              headers without end, ``X-Flood: fff…`` lines of ``line`` bytes
    /endless-value                     one header whose value never ends
    /slowloris [ms=]                   a status line and headers, one byte every ``ms`` (1000)
    /long-status                       a status line whose reason phrase never ends
    /early-hints                       ``103 Early Hints`` responses without end, never the final one
    /bad-chunk                         chunked, and the first chunk size is not hexadecimal
    /chunk-line [style=]               chunked, one chunk-size line without end: ``extension``
                                       (``1;aaaa…``) or ``zeros`` (``0000…``)
    /content-length [value=]           ``Content-Length: value`` (e.g. -1, 1e30, "1, 2"), then
                                       a body without end
    /gzip-bomb [mb=]                   ``Content-Encoding: gzip``: about ``mb`` KiB on the wire that
                                       inflate to ``mb`` MiB of zeros (1024)
    /endless-body [framing=]           a body without end, as fast as it is read: ``length`` (a
                                       huge Content-Length), ``chunked`` or ``close`` (no length)
    /trickle [ms=]                     a huge Content-Length, then one body byte every ``ms`` (1000)
"""

from __future__ import annotations

import asyncio
import functools
import gzip
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

_BLOCK_BYTES = 64 * 1024
_HUGE_LENGTH = str(1 << 50)  # a valid Content-Length no client will ever read to the end


class Host(Protocol):
    """What a hostile route needs from the server around it."""

    @property
    def closing(self) -> bool: ...

    async def pause(self, seconds: float) -> None:
        """Sleep, or end the route (raising) at once when the server shuts down."""
        ...


Route = Callable[[Mapping[str, str], asyncio.StreamWriter, Host], Awaitable[None]]


async def _flood(w: asyncio.StreamWriter, host: Host, first: bytes, block: bytes) -> None:
    """``first``, then ``block`` again and again for as long as the client keeps reading."""
    w.write(first)
    while not host.closing and not w.transport.is_closing():
        await w.drain()  # raises ConnectionResetError once the client hangs up
        w.write(block)
        # drain() returns without yielding while the client keeps up; give the loop a turn anyway,
        # or a client (or another route) on the same loop would never run.
        await asyncio.sleep(0)


async def _drip(w: asyncio.StreamWriter, host: Host, first: bytes, data: bytes, seconds: float) -> None:
    """``first`` at once, then ``data`` a byte at a time, ``seconds`` apart, cycling forever."""
    w.write(first)
    i = 0
    while True:
        await w.drain()
        await host.pause(seconds)
        w.write(data[i % len(data) : i % len(data) + 1])
        i += 1


def _ms(query: Mapping[str, str], default: int = 1000) -> float:
    return int(query.get("ms", str(default))) / 1000


async def header_flood(query: Mapping[str, str], w: asyncio.StreamWriter, host: Host) -> None:
    size = max(12, int(query.get("line", "100")))
    line = b"X-Flood: " + b"f" * (size - 11) + b"\r\n"
    await _flood(w, host, b"HTTP/1.1 200 OK\r\n", line * max(1, _BLOCK_BYTES // len(line)))


async def endless_value(query: Mapping[str, str], w: asyncio.StreamWriter, host: Host) -> None:
    await _flood(w, host, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Flood: ", b"f" * _BLOCK_BYTES)


async def slowloris(query: Mapping[str, str], w: asyncio.StreamWriter, host: Host) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Slow: " + b"s" * 64 + b"\r\n"
    await _drip(w, host, b"", head * 1000, _ms(query))


async def long_status(query: Mapping[str, str], w: asyncio.StreamWriter, host: Host) -> None:
    await _flood(w, host, b"HTTP/1.1 200 ", b"A" * _BLOCK_BYTES)


async def early_hints(query: Mapping[str, str], w: asyncio.StreamWriter, host: Host) -> None:
    hint = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"
    await _flood(w, host, b"", hint * (_BLOCK_BYTES // len(hint)))


async def bad_chunk(query: Mapping[str, str], w: asyncio.StreamWriter, host: Host) -> None:
    w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n0\r\n\r\n")
    await w.drain()
    await host.pause(3600)  # keep the connection open: the client must reject it, not wait for a close


async def chunk_line(query: Mapping[str, str], w: asyncio.StreamWriter, host: Host) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    if query.get("style", "extension") == "zeros":
        await _flood(w, host, head, b"0" * _BLOCK_BYTES)
    else:
        await _flood(w, host, head + b"1;ext=", b"a" * _BLOCK_BYTES)


async def content_length(query: Mapping[str, str], w: asyncio.StreamWriter, host: Host) -> None:
    value = query.get("value", "-1").encode("latin-1")
    await _flood(w, host, b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\n", b"x" * _BLOCK_BYTES)


@functools.cache
def gzip_bomb_bytes(mebibytes: int) -> bytes:
    """``mebibytes`` MiB of zeros gzipped, about 1 KiB per MiB: one member repeated (multi-member gzip
    is valid, RFC 1952), so building a 1 GiB bomb costs milliseconds, not the seconds of deflating it."""
    member = gzip.compress(b"\0" * (1 << 20), compresslevel=9, mtime=0)
    return member * mebibytes


async def gzip_bomb(query: Mapping[str, str], w: asyncio.StreamWriter, host: Host) -> None:
    bomb = gzip_bomb_bytes(int(query.get("mb", "1024")))
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(bomb)}\r\nConnection: close\r\n\r\n"
    )
    w.write(head.encode("latin-1") + bomb)
    await w.drain()


async def endless_body(query: Mapping[str, str], w: asyncio.StreamWriter, host: Host) -> None:
    framing = query.get("framing", "length")
    if framing == "chunked":
        block = f"{_BLOCK_BYTES:x}\r\n".encode() + b"x" * _BLOCK_BYTES + b"\r\n"
        await _flood(w, host, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", block)
    elif framing == "close":
        await _flood(w, host, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", b"x" * _BLOCK_BYTES)
    else:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {_HUGE_LENGTH}\r\n\r\n".encode()
        await _flood(w, host, head, b"x" * _BLOCK_BYTES)


async def trickle(query: Mapping[str, str], w: asyncio.StreamWriter, host: Host) -> None:
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {_HUGE_LENGTH}\r\n\r\n".encode()
    await _drip(w, host, head, b"x", _ms(query))


ROUTES: Mapping[str, Route] = {
    "/header-flood": header_flood,
    "/endless-value": endless_value,
    "/slowloris": slowloris,
    "/long-status": long_status,
    "/early-hints": early_hints,
    "/bad-chunk": bad_chunk,
    "/chunk-line": chunk_line,
    "/content-length": content_length,
    "/gzip-bomb": gzip_bomb,
    "/endless-body": endless_body,
    "/trickle": trickle,
}
