"""The one contract every router keeps, and the records that cross it.

A router moves traffic between named backends ("stable", "canary", ...) and tells the truth about what
its data plane does::

    await router.set_weights({"stable": 90, "canary": 10})
    await router.set_routes([Route(header="X-Livesite-Route", value="canary", backend="canary")])
    state = await router.verify()     # read back from the data plane; RouterError(kind="mismatch") if
                                      # it differs from what this router last asked for
    counters = await router.stats()   # {"stable": BackendStats(...), "canary": ...}, cumulative

Failures are never silent: a data plane that does not answer, refuses a change, lacks a feature or runs
something other than what was asked raises :class:`RouterError`, whose ``kind`` a controller can act on.
"""

from __future__ import annotations

import hashlib
import json
import ssl
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from livesite.errors import LivesiteError

# Names and values end up inside HAProxy Runtime API commands and nginx config files, where a space,
# ';', quote, '$' or brace would change the meaning: they are refused here, once, for every router.
BACKEND_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
ROUTE_VALUE = r"^[A-Za-z0-9._~+-]{1,128}$"
HEADER_NAME = r"^[A-Za-z0-9-]{1,64}$"
COOKIE_NAME = r"^[A-Za-z0-9_-]{1,64}$"
MAX_WEIGHT = 256  # HAProxy's ceiling; the smallest of the three data planes

RouterErrorKind = Literal["unreachable", "rejected", "mismatch", "unsupported", "timeout"]


class RouterError(LivesiteError):
    """The router cannot do what was asked, or its data plane does not do what was asked.

    ``kind`` says which, so a controller can decide (pause the rollout, retry, stop):

    - ``unreachable``: the data plane did not answer (dead socket, refused connection);
    - ``rejected``: it refused the change (bad config, unknown backend); the previous state still serves;
    - ``mismatch``: it runs something other than what this router last asked for (changed behind our back);
    - ``unsupported``: this data plane has no such feature (a route source its config lacks, no /-/routes);
    - ``timeout``: a change was sent but never showed up before the deadline.
    """

    def __init__(self, kind: RouterErrorKind, message: str, *, router: str, hint: str | None = None) -> None:
        super().__init__(f"{router}: {message}", hint=hint)
        self.kind: RouterErrorKind = kind
        self.router = router


class Route(BaseModel):
    """Send requests whose header (or cookie) equals ``value`` to ``backend``, whatever the weights say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    header: str | None = Field(default=None, pattern=HEADER_NAME)
    cookie: str | None = Field(default=None, pattern=COOKIE_NAME)
    value: str = Field(pattern=ROUTE_VALUE)
    backend: str = Field(pattern=BACKEND_NAME)

    @model_validator(mode="after")
    def _one_source(self) -> Route:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("a route matches exactly one of `header` or `cookie`")
        return self

    @property
    def source(self) -> tuple[str, str]:
        """("header", lower-case name) or ("cookie", name): what the data plane looks at."""
        if self.header is not None:
            return ("header", self.header.lower())
        assert self.cookie is not None
        return ("cookie", self.cookie)

    def key(self) -> tuple[str, str, str, str]:
        kind, name = self.source
        return (kind, name, self.value, self.backend)


class RouterState(BaseModel):
    """What the data plane really runs, as read back from it."""

    model_config = ConfigDict(extra="forbid")

    weights: dict[str, int]
    routes: list[Route] | None  # None: this data plane has no routes at all
    draining: list[str] = []
    generation: str  # changes whenever what runs changes (a counter where the plane has one, else a hash)


class Latency(BaseModel):
    """Latency of the requests a backend answered, in seconds."""

    count: int = 0
    sum_seconds: float | None = None  # None where the plane keeps only a moving average (HAProxy)
    mean_seconds: float | None = None
    buckets: list[tuple[float, int]] | None = (
        None  # (upper bound in seconds, cumulative count); +Inf is count
    )


class BackendStats(BaseModel):
    """Cumulative counters of one backend since the data plane started (take differences between reads)."""

    requests: int = 0
    errors: int = 0  # answered 5xx, or could not be reached
    status: dict[str, int] = {}  # "2xx": n, ...; what the plane counts (connect failures have no status)
    latency: Latency = Latency()


@runtime_checkable
class Router(Protocol):
    """A data plane whose traffic split a rollout moves. See the module docstring."""

    name: str

    async def set_weights(self, weights: Mapping[str, int]) -> None:
        """Give the named backends these weights (others keep theirs). Raises RouterError."""
        ...

    async def set_routes(self, routes: Sequence[Route]) -> None:
        """Replace all header/cookie routes with ``routes``. Raises RouterError."""
        ...

    async def verify(self) -> RouterState:
        """Read back what the data plane runs. Raises RouterError (``mismatch`` if it differs from what
        this router last set)."""
        ...

    async def stats(self) -> dict[str, BackendStats]:
        """Cumulative per-backend counters. Raises RouterError."""
        ...


@runtime_checkable
class Drainable(Protocol):
    """Optional power: stop sending new requests to a backend while its open ones finish."""

    async def drain(self, backend: str) -> None: ...

    async def undrain(self, backend: str) -> None: ...


def check_weights(router: str, weights: Mapping[str, int], known: Sequence[str]) -> dict[str, int]:
    """The weights as a plain dict, or RouterError(rejected) naming what is wrong with them."""
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise RouterError(
            "rejected",
            f"unknown backends: {', '.join(unknown)}",
            router=router,
            hint=f"backends of this router: {', '.join(known)}",
        )
    bad = {name: w for name, w in weights.items() if not 0 <= w <= MAX_WEIGHT}
    if bad:
        raise RouterError("rejected", f"weights must be 0..{MAX_WEIGHT}, got {bad}", router=router)
    return dict(weights)


def check_routes(router: str, routes: Sequence[Route], known: Sequence[str]) -> list[Route]:
    unknown = sorted({r.backend for r in routes} - set(known))
    if unknown:
        raise RouterError(
            "rejected",
            f"routes name unknown backends: {', '.join(unknown)}",
            router=router,
            hint=f"backends of this router: {', '.join(known)}",
        )
    seen: dict[tuple[str, str, str], str] = {}
    for route in routes:
        kind, name = route.source
        if seen.setdefault((kind, name, route.value), route.backend) != route.backend:
            raise RouterError(
                "rejected", f"{kind} {name}={route.value} is routed to two backends", router=router
            )
    return list(routes)


def fingerprint(weights: Mapping[str, int], routes: Sequence[Route] | None, draining: Sequence[str]) -> str:
    """A short hash of a state, for planes that keep no generation counter of their own."""
    canonical = json.dumps(
        {
            "weights": dict(sorted(weights.items())),
            "routes": None if routes is None else sorted(r.key() for r in routes),
            "draining": sorted(draining),
        },
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def differences(
    asked_weights: Mapping[str, int], asked_routes: Sequence[Route] | None, seen: RouterState
) -> list[str]:
    """What differs between what was asked and what runs, one phrase each (empty: they agree).

    Pure; only what was asked is compared (a backend never set keeps whatever weight it has).
    """
    out = [
        f"{name} weight is {seen.weights.get(name)} (asked {weight})"
        for name, weight in sorted(asked_weights.items())
        if seen.weights.get(name) != weight
    ]
    if asked_routes is not None:
        want = sorted(r.key() for r in asked_routes)
        have = None if seen.routes is None else sorted(r.key() for r in seen.routes)
        if want != have:
            out.append(f"routes are {_show(have)} (asked {_show(want)})")
    return out


def _show(keys: Sequence[tuple[str, str, str, str]] | None) -> str:
    if keys is None:
        return "absent"
    if not keys:
        return "none"
    return ", ".join(f"{k}:{n}={v}→{b}" for k, n, v, b in keys)


class Asked:
    """What a router last asked its data plane for, so verify() can tell a mismatch."""

    def __init__(self) -> None:
        self.weights: dict[str, int] = {}
        self.routes: list[Route] | None = None

    def check(self, router: str, seen: RouterState) -> RouterState:
        wrong = differences(self.weights, self.routes, seen)
        if wrong:
            raise RouterError(
                "mismatch",
                "the data plane does not run what was asked: " + "; ".join(wrong),
                router=router,
                hint="something changed it behind livesite's back; set the weights again or find who did",
            )
        return seen


class TlsContexts:
    """One TLS context per router, made on first https use: httpx builds (and loads the CA bundle into)
    a new one per client otherwise, measured at 40–140 ms here — more than a whole Runtime API change."""

    def __init__(self) -> None:
        self._context: ssl.SSLContext | None = None

    def verify_for(self, url: str) -> ssl.SSLContext | bool:
        if not url.lower().startswith("https:"):
            return False  # plain http: nothing to verify, nothing to load
        if self._context is None:
            self._context = ssl.create_default_context()
        return self._context
