"""Bounds on what a target may send, checked before the parser sees a byte.

A prober reads answers from servers it does not control, so every size it keeps or scans must be
bounded, and each bound must be checked as bytes arrive rather than after the fact. httptools (llhttp)
has no such limits: it hands over a header only when the next one starts, gluing the pieces of a value
together one copy at a time, so an endless header value costs quadratic time and unbounded memory
before we see any of it. :class:`HeadGuard` therefore scans the status line and the header lines
itself (a ``bytes.find`` per line, at most ``max_header_count + 2`` lines per call) and stops the
exchange at the first bound crossed. The defaults follow nginx's ``large_client_header_buffers``
spirit (a line fits in a buffer, a head in a few) and are generous for any real site.

The body is bounded by ``max_body_bytes`` (a check setting); chunked framing is bounded by
``max_line_bytes`` too: bytes that carry neither body nor a new chunk (an endless chunk-size line,
chunk extension or trailer) may not exceed it. Nothing is decompressed: a body is kept as the bytes
on the wire, ``Content-Encoding: gzip`` or not, so a gzip bomb costs what it weighs compressed.
"""

from __future__ import annotations

from dataclasses import dataclass

from livesite.net.errors import ProbeError
from livesite.results import FailureKind

KIB = 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of a response head (and of chunked framing) a probe reads before giving up.

    Crossing any of them fails the probe with a ``protocol`` failure naming the bound, and the
    connection is aborted at once.
    """

    max_status_line_bytes: int = 8 * KIB  # "HTTP/1.1 200 OK" and its reason phrase, line break included
    max_line_bytes: int = 16 * KIB  # one header line; also a chunk-size line or a trailer
    max_header_count: int = 100  # header lines of a response (and its trailers)
    max_header_bytes: int = 64 * KIB  # the whole head: status line, headers, blank line

    def __post_init__(self) -> None:
        for name in ("max_status_line_bytes", "max_line_bytes", "max_header_count", "max_header_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


DEFAULT_LIMITS = Limits()


def _kib(n: int) -> str:
    return f"{n // KIB} KiB" if n % KIB == 0 else f"{n} bytes"


class HeadGuard:
    """Counts the lines of one response head as they arrive, across reads, and enforces :class:`Limits`.

    Call :meth:`scan` with each piece of data before handing it to the parser, for as long as the
    parser has not finished the head. 1xx responses (103 Early Hints) are heads too: the counts go on
    across them, so an endless stream of them is bounded like one endless head.
    """

    __slots__ = ("head_bytes", "headers", "heads", "last_byte", "limits", "line_bytes", "on_status_line")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.head_bytes = 0  # every head byte so far
        self.headers = 0  # header lines so far
        self.heads = 0  # status lines so far (more than one after 1xx responses)
        self.line_bytes = 0  # bytes of the line not yet ended
        self.on_status_line = True
        self.last_byte = -1  # the last byte of the previous piece, to see a CR LF split in two

    def scan(self, data: bytes, start: int = 0) -> int:
        """The offset just past the blank line that ends a head in ``data[start:]``, or -1 when the
        head goes on past ``data``.

        Raises:
            ProbeError: (``protocol``) a line, the header count or the head's size crossed its bound.
        """
        limits = self.limits
        if self.line_bytes == 0 and self.on_status_line:
            whole = self._whole_head(data, start)
            if whole >= 0:
                return whole
        pos, size = start, len(data)
        while pos < size:
            nl = data.find(b"\n", pos)
            end = size if nl < 0 else nl + 1
            self.line_bytes += end - pos
            self.head_bytes += end - pos
            self._check_line()
            if self.head_bytes > limits.max_header_bytes:
                raise _too_big(f"the response head is larger than {_kib(limits.max_header_bytes)}")
            if nl < 0:
                self.last_byte = data[-1]
                return -1
            content = self.line_bytes - 1  # without the LF
            before = data[nl - 1] if nl > pos else self.last_byte
            self.line_bytes = 0
            self.last_byte = 10
            pos = nl + 1
            if self.on_status_line:
                self.on_status_line = False
                self.heads += 1
                if self.heads > 1:
                    self._count_line()  # the status line of a head after a 1xx one counts too
            elif content == 0 or (content == 1 and before == 13):
                self.on_status_line = True  # a 1xx head may be followed by another head
                return pos
            else:
                self._count_line()
        return -1

    def _whole_head(self, data: bytes, start: int) -> int:
        """The common case in C-speed calls: a small head whole in one read. -1 to scan line by line."""
        blank = data.find(b"\r\n\r\n", start)
        if blank < 0:
            return -1
        end = blank + 4
        size = end - start
        limits = self.limits
        # No line of a head this small can be too long; only the count and the total need checking.
        if size > limits.max_status_line_bytes or size > limits.max_line_bytes:
            return -1
        if self.head_bytes + size > limits.max_header_bytes:
            return -1
        headers = self.headers + data.count(b"\n", start, end) - 2  # less the status and blank lines
        if self.heads:
            headers += 1  # the status line of a head after a 1xx one
        if headers > limits.max_header_count:
            return -1  # the line-by-line scan fails with the exact message
        self.head_bytes += size
        self.headers = headers
        self.heads += 1
        self.last_byte = 10
        return end

    def _count_line(self) -> None:
        self.headers += 1
        if self.headers > self.limits.max_header_count:
            raise _too_big(f"the response has more than {self.limits.max_header_count} header lines")

    def _check_line(self) -> None:
        limits = self.limits
        if self.on_status_line:
            if self.line_bytes > limits.max_status_line_bytes:
                raise _too_big(f"the status line is longer than {_kib(limits.max_status_line_bytes)}")
        elif self.line_bytes > limits.max_line_bytes:
            raise _too_big(f"a header line is longer than {_kib(limits.max_line_bytes)}")

    def count_trailer(self) -> None:
        """A trailer (a header after a chunked body) counts against the same header budget."""
        self._count_line()


def framing_too_long(limits: Limits) -> ProbeError:
    """Chunked framing went on for ``max_line_bytes`` without a byte of body or a new chunk."""
    return _too_big(f"a chunk-size line or trailer is longer than {_kib(limits.max_line_bytes)}")


def _too_big(message: str) -> ProbeError:
    return ProbeError(FailureKind.protocol, message)
