"""What a router is told at start: its backends, how users stick, its limits and timeouts.

Backends come from the command line as ``URL=WEIGHT`` or ``NAME=URL=WEIGHT``; :func:`parse_backend`
turns one such word into a :class:`BackendSpec` or says exactly what is wrong with it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
KIB = 1024


class BackendSpec(BaseModel):
    """One upstream: a name users see in stats and admin calls, a plain-http origin, a weight."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME.pattern)
    host: str
    port: int = Field(ge=1, le=65535)
    weight: int = Field(ge=0, le=1_000_000)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class Sticky(BaseModel):
    """Which request attribute keeps a user on one revision: a header (a user id) or a cookie."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    header: str | None = Field(default=None, min_length=1, max_length=256)
    cookie: str | None = Field(default=None, min_length=1, max_length=256)

    @model_validator(mode="after")
    def _exactly_one(self) -> Sticky:
        if (self.header is None) == (self.cookie is None):
            raise ValueError('sticky needs exactly one of "header" or "cookie"')
        return self


class Route(BaseModel):
    """A request whose header (or cookie) has this value goes to this backend, whatever the weights.

    ``value`` ``*`` matches any value, as long as the header or cookie is present.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    header: str | None = Field(default=None, min_length=1, max_length=256)
    cookie: str | None = Field(default=None, min_length=1, max_length=256)
    value: str = Field(max_length=4096)
    backend: str

    @model_validator(mode="after")
    def _exactly_one(self) -> Route:
        if (self.header is None) == (self.cookie is None):
            raise ValueError('a route needs exactly one of "header" or "cookie"')
        return self


class Limits(BaseModel):
    """Bounds on what a client may send (nginx's large_client_header_buffers and client_max_body_size spirit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_url_bytes: int = Field(default=8 * KIB, ge=64)
    max_header_count: int = Field(default=100, ge=1)
    max_head_bytes: int = Field(default=64 * KIB, ge=1 * KIB)
    max_body_bytes: int = Field(default=16 * KIB * KIB, ge=0)
    max_pipelined: int = Field(default=32, ge=1)  # parsed requests waiting their turn on one connection


class Timeouts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    request_seconds: float = Field(default=15.0, gt=0)  # first byte of a request to its last (slowloris)
    idle_seconds: float = Field(default=75.0, gt=0)  # a keep-alive client connection between requests
    connect_seconds: float = Field(default=3.0, gt=0)
    upstream_seconds: float = Field(default=60.0, gt=0)  # silence from a backend during one exchange
    upstream_idle_seconds: float = Field(default=30.0, gt=0)  # a pooled backend connection unused


class HealthCheck(BaseModel):
    """Active checks: ``GET path`` on each backend every ``interval_seconds``; below 500 is healthy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(default="/", pattern=r"^/[^\s]*$")
    interval_seconds: float = Field(default=2.0, gt=0)
    timeout_seconds: float = Field(default=1.0, gt=0)
    fall: int = Field(default=2, ge=1)  # consecutive failures before a backend is taken out
    rise: int = Field(default=1, ge=1)  # consecutive successes before it is taken back
    enabled: bool = True


class RouterSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    backends: tuple[BackendSpec, ...] = Field(min_length=1)
    sticky: Sticky | None = None
    routes: tuple[Route, ...] = ()
    admin_token: str | None = None
    limits: Limits = Limits()
    timeouts: Timeouts = Timeouts()
    health: HealthCheck = HealthCheck()
    max_idle_per_backend: int = Field(default=256, ge=0)
    # A request that reached no backend (connect refused, timed out) is tried on another one; off, it
    # fails with 502 (what a chaos experiment should catch before a real outage does).
    failover: bool = True
    # the response header naming the backend that answered (None: none)
    backend_header: str | None = Field(default="X-Backend", pattern=r"^[A-Za-z0-9-]{1,64}$")
    labels: dict[
        str, str
    ] = {}  # shown in /-/health and /-/stats, e.g. {"front": "front-a", "zone": "zone-a"}
    admin_realm: str = Field(
        default="livesite-router", pattern=r'^[^"\\\r\n]{1,64}$'
    )  # WWW-Authenticate realm
    admin_hint: str | None = Field(default=None, max_length=300)  # told with a 401 or 403: where the token is

    @model_validator(mode="after")
    def _consistent(self) -> RouterSettings:
        names = [b.name for b in self.backends]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"backend names must be unique: {', '.join(twice)}")
        if sum(b.weight for b in self.backends) <= 0:
            raise ValueError("at least one backend needs a weight above 0")
        unknown = sorted({r.backend for r in self.routes} - set(names))
        if unknown:
            raise ValueError(f"routes name unknown backends: {', '.join(unknown)}")
        return self


class BackendError(ValueError):
    """A ``--backend`` word that cannot be read; the message says what form is expected."""


FORM = "URL=WEIGHT or NAME=URL=WEIGHT, e.g. http://127.0.0.1:8001=90 or canary=http://127.0.0.1:8002=10"


def parse_backend(word: str, default_name: str) -> BackendSpec:
    """``[NAME=]URL=WEIGHT`` → a backend. The URL is ``http://HOST:PORT`` (no path, no https).

    Raises:
        BackendError: the word does not have that form; the message names the part at fault.
    """
    name, rest = default_name, word
    head, sep, tail = word.partition("=")
    if sep and not head.startswith(("http://", "https://")) and "://" not in head:
        name, rest = head, tail
    url, sep, weight_text = rest.rpartition("=")
    if not sep:
        raise BackendError(f"{word!r}: no weight; expected {FORM}")
    try:
        weight = int(weight_text)
    except ValueError:
        raise BackendError(
            f"{word!r}: the weight {weight_text!r} is not a whole number; expected {FORM}"
        ) from None
    if weight < 0:
        raise BackendError(f"{word!r}: the weight must be 0 or more")
    if not _NAME.match(name):
        raise BackendError(f"{word!r}: the name {name!r} may hold letters, digits, '.', '_' and '-' only")
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise BackendError(
            f"{word!r}: the URL must start with http:// (the router speaks plain HTTP/1.1 to backends)"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BackendError(f"{word!r}: the URL must be an origin (http://HOST:PORT), without a path")
    try:
        port = parts.port or 80
    except ValueError:
        raise BackendError(f"{word!r}: the port of {url!r} is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise BackendError(f"{word!r}: the URL {url!r} has no host")
    return BackendSpec(name=name, host=parts.hostname, port=port, weight=weight)


def parse_backends(words: list[str], names: list[str] | None = None) -> tuple[BackendSpec, ...]:
    """Backends named by ``names`` (``--name-backends``) in order, else by their own NAME= or b1, b2, ...

    Raises:
        BackendError: a word is malformed, or ``names`` does not have one name per backend.
    """
    if names is not None and len(names) != len(words):
        raise BackendError(f"--name-backends gives {len(names)} names for {len(words)} backends")
    specs = [parse_backend(w, f"b{i + 1}") for i, w in enumerate(words)]
    if names is not None:
        specs = [s.model_copy(update={"name": n}) for s, n in zip(specs, names, strict=True)]
        for n in names:
            if not _NAME.match(n):
                raise BackendError(f"--name-backends: {n!r} may hold letters, digits, '.', '_' and '-' only")
    return tuple(specs)
