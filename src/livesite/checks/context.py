"""What a check kind needs besides its spec: where it runs from, as whom, defaults and shared resources.

A :class:`RunContext` names the zone and the :class:`Identity` a run speaks as. Everything cached
across runs (prepared requests, kept-alive connections) is keyed by check, zone *and* identity, so
one fake user's credentials or connection never serve another.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar, cast

from livesite.checks.redact import Redactor
from livesite.clock import Clock, SystemClock
from livesite.config.models import CheckBase, Defaults, TlsSettings, Zone
from livesite.net.http1 import Connection, Progress
from livesite.net.resolve import Resolver, SystemResolver
from livesite.results import KindObservation

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a fake user logs in with. Every value is a secret: never printed, stored or cut into a Result.

    ``attributes`` are the user's cohort attributes (plan, locale, zone, segment): not secret.
    """

    username: str = ""
    password: str = ""
    totp_secret: str = ""  # base32, as an authenticator app is given it
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(v for v in (self.password, self.totp_secret) if v)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who runs a check: a fake user of a cohort, with what they send, or nobody in particular.

    ``route`` pins the run to a revision (e.g. "canary"); it is sent as the zone defaults'
    ``route_header`` so a router can honour it.
    """

    user: str = ""
    cohort: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    cookies: tuple[tuple[str, str], ...] = ()
    route: str = ""
    credentials: Credentials | None = None  # a fake user's login, when it has one

    @property
    def key(self) -> str:
        """Tells identities apart in cache keys; two users never share one, nor one user's two routes."""
        if not (self.user or self.cohort or self.headers or self.cookies or self.route or self.credentials):
            return ""
        digest = hashlib.blake2b(
            repr((self.headers, self.cookies, self.credentials)).encode(), digest_size=8
        ).hexdigest()
        return f"{self.user}\0{self.cohort}\0{self.route}\0{digest}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """What this identity sends or holds that must never be printed: header and cookie values, and
        its credentials' password and TOTP secret."""
        held = self.credentials.secrets if self.credentials is not None else ()
        # A header that carries the user id (the synthetic-user marker) hides nothing: the Result
        # names the user anyway, and masking the id would cut it out of every message.
        sent = (v for _, v in (*self.headers, *self.cookies) if not (self.user and v == self.user))
        return (*sent, *held)

    def request_headers(self, route_header: str) -> list[tuple[str, str]]:
        out = list(self.headers)
        if self.cookies:
            out.append(("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies)))
        if self.route:
            out.append((route_header, self.route))
        return out


ANONYMOUS = Identity()


def _no_password() -> str:
    raise ValueError("the client key is encrypted; livesite needs an unencrypted key file")


class Resources:
    """Long-lived things shared by every run: TLS contexts (costly to build), kept-alive connections
    and the resolver.

    One resolver for every check, so that fifty checks on one name share a lookup and its cached
    answer; a :class:`SystemResolver` unless one is given. The one it made, it closes in
    :meth:`close`; one given stays its owner's to close.
    """

    def __init__(self, base_dir: Path = Path("."), *, resolver: Resolver | None = None) -> None:
        self.base_dir = base_dir
        self._own_resolver: SystemResolver | None = None
        if resolver is None:
            resolver = self._own_resolver = SystemResolver()
        self.resolver: Resolver = resolver
        self._ssl: dict[tuple[object, ...], ssl.SSLContext] = {}
        self._connections: dict[tuple[str, str, str], Connection] = {}
        self._not_after: dict[bytes, datetime | None] = {}
        self._memo: dict[tuple[int, str], tuple[CheckBase, object]] = {}
        self._shared: dict[str, object] = {}

    def ssl_context(self, tls: TlsSettings) -> ssl.SSLContext:
        key = (tls.verify, tls.ca_file, tls.cert_file, tls.key_file)
        context = self._ssl.get(key)
        if context is None:
            context = ssl.create_default_context(cafile=self._path(tls.ca_file))
            if not tls.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if tls.cert_file is not None:
                # A password callback that refuses: without one, an encrypted key makes OpenSSL
                # prompt on the terminal, and a monitor would hang there.
                context.load_cert_chain(
                    self._path(tls.cert_file) or "", self._path(tls.key_file), password=_no_password
                )
            self._ssl[key] = context
        return context

    def _path(self, path: Path | None) -> str | None:
        if path is None:
            return None
        return str(path if path.is_absolute() else self.base_dir / path)

    def take_connection(self, check: str, zone: str, identity: Identity) -> Connection | None:
        connection = self._connections.pop((check, zone, identity.key), None)
        if connection is not None and not connection.usable:
            connection.close()
            return None
        return connection

    def keep_connection(self, check: str, zone: str, identity: Identity, connection: Connection) -> None:
        key = (check, zone, identity.key)
        old = self._connections.pop(key, None)
        if old is not None and old is not connection:
            old.close()
        self._connections[key] = connection

    def redactor(self, spec: CheckBase, identity: Identity = ANONYMOUS) -> Redactor:
        """The redactor of a check run as ``identity``, built once per spec and identity."""
        return self.memo(
            spec, f"redactor\0{identity.key}", lambda: Redactor.for_check(spec, identity.secrets)
        )

    def memo(self, spec: CheckBase, what: str, make: Callable[[], T]) -> T:
        """What depends only on a spec (and ``what`` says which zone, identity or part), computed once.

        Specs live as long as the plan; the spec itself is kept with the value, so a new spec that
        reuses a dead one's id is never handed the dead one's value.
        """
        key = (id(spec), what)
        found = self._memo.get(key)
        if found is None or found[0] is not spec:
            found = (spec, make())
            self._memo[key] = found
        return cast(T, found[1])

    def cert_not_after(self, der: bytes) -> datetime | None:
        """The expiry of a DER certificate; parsed once per distinct certificate."""
        if der not in self._not_after:
            from cryptography import x509

            try:
                self._not_after[der] = x509.load_der_x509_certificate(der).not_valid_after_utc
            except ValueError:
                self._not_after[der] = None
            if len(self._not_after) > 1024:
                self._not_after.pop(next(iter(self._not_after)))
        return self._not_after[der]

    def shared(self, key: str, make: Callable[[], T]) -> T:
        """One long-lived thing per ``key`` for every run (a browser pool), made on first use.

        What has an ``aclose`` is closed by :meth:`aclose`; a ``close`` also runs in :meth:`close`.
        """
        if key not in self._shared:
            self._shared[key] = make()
        return cast(T, self._shared[key])

    async def aclose(self) -> None:
        """:meth:`close`, after closing the shared things that need the event loop to close."""
        for thing in self._shared.values():
            aclose = getattr(thing, "aclose", None)
            if aclose is not None:
                await aclose()
        self.close()

    def close(self) -> None:
        for thing in self._shared.values():
            close = getattr(thing, "close", None)
            if close is not None:
                close()
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()
        if self._own_resolver is not None:
            self._own_resolver.close()


@dataclass(slots=True)
class RunContext:
    zone: Zone
    defaults: Defaults = field(default_factory=Defaults)
    resources: Resources = field(default_factory=Resources)
    clock: Clock = field(default_factory=SystemClock)
    identity: Identity = ANONYMOUS
    tags: dict[str, str] = field(default_factory=dict)
    progress: Progress = field(default_factory=Progress)
    target: str = ""  # what this execution probes (URL, host:port, query), set early so failures name it
    # What the kind saw before it failed (an address, a handshake), kept in a failed Result.
    observation: KindObservation | None = None
    # Every zone of the config, for kinds that compare zones in one run (consistency, cache, token).
    zones: tuple[Zone, ...] = ()

    @property
    def user(self) -> str:
        return self.identity.user

    @property
    def cohort(self) -> str:
        return self.identity.cohort

    def fresh(self) -> RunContext:
        """A copy for one execution, with its own progress tracker."""
        # Spelled out rather than dataclasses.replace: this runs once per probe, and replace is 4x slower.
        return RunContext(
            zone=self.zone,
            defaults=self.defaults,
            resources=self.resources,
            clock=self.clock,
            identity=self.identity,
            tags=self.tags,
            zones=self.zones,
        )

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), tz=UTC)
