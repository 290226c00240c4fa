"""HTTP/1.1 framing helpers shared by both sides of the router: hop-by-hop headers, canned answers."""

from __future__ import annotations

import json

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded. Content-Length and Expect are
# recomputed (the router buffers request bodies and answers 100-continue itself).
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
REQUEST_DROP = HOP_BY_HOP | {b"content-length", b"expect"}

REASONS = {
    100: b"Continue",
    200: b"OK",
    204: b"No Content",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    413: b"Content Too Large",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}


def connection_tokens(headers: list[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Header names listed in ``Connection`` (lower case): hop-by-hop too, by the sender's word."""
    names: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            names.update(t.strip().lower() for t in value.split(b","))
    return frozenset(names)


def simple_response(
    status: int,
    body: bytes,
    *,
    content_type: bytes = b"application/json",
    close: bool = False,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> bytes:
    """A whole response with a Content-Length, for the router's own answers."""
    reason = REASONS.get(status, b"Unknown")
    lines = [
        b"HTTP/1.1 %d %s\r\n" % (status, reason),
        b"Content-Type: %s\r\n" % content_type,
        b"Content-Length: %d\r\n" % len(body),
    ]
    for name, value in extra or ():
        lines.append(name + b": " + value + b"\r\n")
    if close:
        lines.append(b"Connection: close\r\n")
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)


def error_body(message: str, **more: object) -> bytes:
    return json.dumps({"error": message, **more}).encode()
