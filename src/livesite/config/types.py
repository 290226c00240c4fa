"""Small value types and value checks shared by the config models: durations, addresses, URLs,
header names and values, parsed assertions.

Each refuses, at load, a value that would break at run time: a duration is finite and in its
field's range, an address or URL has a port from 1 to 65535, a header can be sent, an assertion parses.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, PlainValidator, WithJsonSchema

from livesite.assertions import Assertion, AssertionSyntaxError, parse

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$")

# Bounds of each kind of duration, in seconds (docs/configuration.md lists them).
MIN_INTERVAL_SECONDS = 0.1  # below this a check is a load test of the target, and of the monitor
MAX_INTERVAL_SECONDS = 30 * 86400.0
MIN_TIMEOUT_SECONDS = 0.01
MAX_TIMEOUT_SECONDS = 3600.0
MAX_JITTER_SECONDS = 86400.0
MAX_RETRY_DELAY_SECONDS = 3600.0
MIN_RETENTION_SECONDS = 60.0  # aggregates are per minute
MAX_RETENTION_SECONDS = 100 * 365 * 86400.0


def parse_duration(value: object) -> float:
    """``"500ms"``, ``"30s"``, ``"2m"``, ``"1h"``, ``"1d"`` or a number of seconds → seconds.

    Raises:
        ValueError: not a duration, negative, or not finite (``.nan``, ``.inf``).
    """
    if isinstance(value, bool):
        raise ValueError("a duration cannot be true/false; write e.g. 30s")
    try:
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str):
            m = _DURATION_RE.match(value)
            if m is None:
                raise ValueError(f"{value[:40]!r} is not a duration; write e.g. 500ms, 30s, 2m or 1h")
            seconds = float(m.group(1)) * _SCALE[m.group(2)]
        else:
            raise ValueError(f"{value!r} is not a duration; write e.g. 500ms, 30s, 2m or 1h"[:120])
    except OverflowError:  # an integer with hundreds of digits
        raise ValueError("a duration must be finite") from None
    if not math.isfinite(seconds):
        raise ValueError("a duration must be finite; write e.g. 30s")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as the shortest duration a user would write: 0.1 → ``100ms``, 86400 → ``1d``."""
    for unit, scale in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= scale and (seconds / scale).is_integer():
            return f"{seconds / scale:g}{unit}"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


def _range(low: float, high: float, *, zero_ok: bool = False) -> Callable[[float], float]:
    def check(seconds: float) -> float:
        if zero_ok and seconds == 0:
            return seconds
        if seconds < low or seconds > high:
            lowest = "0" if zero_ok else format_duration(low)
            raise ValueError(
                f"must be from {lowest} to {format_duration(high)}, not {format_duration(seconds)}"
            )
        return seconds

    return check


_SCHEMA = WithJsonSchema({"type": ["string", "number"], "examples": ["30s", "500ms", 2.5]})

# Any finite duration of zero or more.
Seconds = Annotated[float, BeforeValidator(parse_duration), _SCHEMA]
Interval = Annotated[
    float,
    BeforeValidator(parse_duration),
    AfterValidator(_range(MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS)),
    _SCHEMA,
]
Timeout = Annotated[
    float,
    BeforeValidator(parse_duration),
    AfterValidator(_range(MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS)),
    _SCHEMA,
]
Jitter = Annotated[
    float, BeforeValidator(parse_duration), AfterValidator(_range(0, MAX_JITTER_SECONDS)), _SCHEMA
]
RetryDelay = Annotated[
    float, BeforeValidator(parse_duration), AfterValidator(_range(0, MAX_RETRY_DELAY_SECONDS)), _SCHEMA
]
Retention = Annotated[
    float,
    BeforeValidator(parse_duration),
    AfterValidator(_range(MIN_RETENTION_SECONDS, MAX_RETENTION_SECONDS)),
    _SCHEMA,
]


def parse_host_port(text: str, what: str, *, default_port: int | None = None) -> tuple[str, int]:
    """``host:port``, ``[v6]:port``, or (with ``default_port``) a bare host → (host, port).

    The host is an IP address or a DNS name; the port a number from 1 to 65535.

    Raises:
        ValueError: says what is wrong and how to write it.
    """
    example = f"write host:port, e.g. 127.0.0.1:{default_port or 9109} or [::1]:{default_port or 9109}"
    if "://" in text:
        raise ValueError(f"{what} {text[:80]!r} is host:port, not a URL (hint: {example})")
    if text.startswith("["):
        close = text.find("]")
        host, rest = text[1:close], text[close + 1 :] if close > 0 else ""
        if close < 0 or not _is_ip(host, 6):
            raise ValueError(f"{what} {text[:80]!r} has no IPv6 address inside [...] (hint: {example})")
        if not rest and default_port is not None:
            return host, default_port
        if not rest.startswith(":"):
            raise ValueError(f"{what} {text[:80]!r} has no port (hint: {example})")
        port_text = rest[1:]
    else:
        if text.count(":") > 1:
            hint = "write an IPv6 address in brackets, e.g. [::1]:443"
            raise ValueError(f"{what} {text[:80]!r}: an IPv6 address needs brackets (hint: {hint})")
        host, sep, port_text = text.partition(":")
        if not sep:
            if default_port is None:
                raise ValueError(f"{what} {text[:80]!r} has no port (hint: {example})")
            port_text = str(default_port)
        if not (_is_ip(host, 4) or _HOSTNAME_RE.match(host)):
            raise ValueError(
                f"{what} {text[:80]!r} does not start with a host name or IP address (hint: {example})"
            )
    if not (
        port_text.isascii() and port_text.isdigit() and len(port_text) <= 5 and 1 <= int(port_text) <= 65535
    ):
        raise ValueError(f"{what} {text[:80]!r}: the port must be a number from 1 to 65535 (hint: {example})")
    return host, int(port_text)


def is_host_name(text: str) -> bool:
    """A DNS name (letters, digits, ``-`` and ``_`` in labels of at most 63) or an IP address."""
    return bool(_HOSTNAME_RE.match(text)) or _is_ip(text, 4) or _is_ip(text, 6)


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def _assertion(value: object, *, budget: bool) -> Assertion:
    if isinstance(value, Assertion):
        return value
    if isinstance(value, bool | int | float):
        raise ValueError(f"an assertion is text such as 'status == 200', not {value!r}")
    if isinstance(value, list | dict):
        # `- status: 200`, or `- [x]`: YAML read the line as a mapping or a list, not as text.
        shape = "a list" if isinstance(value, list) else "a mapping"
        raise ValueError(
            f"an assertion is text such as 'status == 200', but YAML read this one as {shape} "
            "(hint: quote the assertion: - 'status in [201, 409]')"
        )
    if not isinstance(value, str):
        raise ValueError("an assertion is text such as 'status == 200'")
    try:
        return parse(value, budget=budget)
    except AssertionSyntaxError as e:
        raise ValueError(e.message + (f" (hint: {e.hint})" if e.hint else "")) from None


AssertionRule = Annotated[
    Assertion,
    PlainValidator(lambda v: _assertion(v, budget=False)),
    PlainSerializer(lambda a: a.expr, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["status == 200", "latency < 300ms"]}),
]
BudgetRule = Annotated[
    Assertion,
    PlainValidator(lambda v: _assertion(v, budget=True)),
    PlainSerializer(lambda a: a.expr, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["latency < 300ms"]}),
]


# An HTTP header name (RFC 9110 token): anything else cannot be sent.
_TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Characters that cannot go into a header value or a request line: they would end it early.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def header_name(name: str, what: str) -> str:
    """``name`` if it can be sent as an HTTP header name, else a ValueError naming ``what``."""
    if not _TOKEN_RE.match(name):
        raise ValueError(f"{what} {name[:60]!r} is not a valid HTTP header name (letters, digits, - and _)")
    return name


def header_value(value: str, what: str) -> str:
    """``value`` if it holds no line break or other control character (a tab is allowed)."""
    m = _CONTROL_RE.search(value.replace("\t", " "))
    if m:
        raise ValueError(
            f"{what} holds the control character {m.group()!r}, which cannot be sent in a header"
        )
    return value


def http_url_problem(url: str) -> tuple[str, str] | None:
    """What keeps ``url`` from being an absolute http(s) URL livesite can request, and how to fix it;
    None if nothing does."""
    example = "write an absolute URL, e.g. https://shop.example.com/path"
    if _CONTROL_RE.search(url) or " " in url:
        return "holds a space or a control character", "percent-encode it, e.g. %20"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "has a port that is not a number from 1 to 65535", example
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an absolute http(s) URL", example
    if port == 0:
        return "has port 0", example
    return None


def _shown(url: str) -> str:
    """A store URL fit for a message: a password in it is ``****``, and its query (which may hold
    ``password=``) is left out."""
    url, question, _ = url.partition("?")
    scheme, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    credentials, at, host = authority.rpartition("@")
    if at and ":" in credentials:
        authority = f"{credentials.split(':', 1)[0]}:****@{host}"
    return f"{scheme}{sep}{authority}{slash}{tail}{'?…' if question else ''}"[:200]


def store_url_problem(url: str) -> str | None:
    """What keeps ``url`` from naming a store livesite can open, or None (the rules of ``open_store``)."""
    shown = _shown(url)
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://") :]
        if not rest.startswith("/") or rest == "/":
            return (
                f"cannot read the SQLite path in store url {shown!r} "
                "(hint: write sqlite:///relative/results.db or sqlite:////absolute/results.db)"
            )
        if "\0" in rest:
            return "a SQLite path cannot hold a NUL character"
        return None
    if url.startswith(("postgresql://", "postgres://")):
        hint = "(hint: write postgresql://user@host:5432/db, or leave the port out for 5432)"
        try:
            port = urlsplit(url).port
        except ValueError:
            return f"the port in store url {shown!r} is not a number from 1 to 65535 {hint}"
        if port == 0:
            return f"port 0 in store url {shown!r} {hint}"
        return None
    return (
        f"unknown store url scheme in {shown[:60]!r} "
        "(hint: use sqlite:///results.db for a local file or postgresql://user@host:5432/db)"
    )


def http_url(v: str) -> str:
    """An absolute http(s) URL with a host and a usable port, or a ValueError that says what to write."""
    problem = http_url_problem(v)
    if problem:
        raise ValueError(f"{v[:100]!r} {problem[0]} (hint: {problem[1]})")
    return v


HttpUrl = Annotated[str, AfterValidator(http_url)]
