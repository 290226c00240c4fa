"""A fake user's HTTP session: the requests of one multi-step run, as a browser without a screen.

Journeys, cache, token and consistency checks make several requests in one run, in one zone or in
every zone. A :class:`Session` sends each as the run's identity (its headers, the synthetic-user
marker, its route), keeps the cookies the site sets (per host, as a browser does), keeps one
connection per origin alive for the run and closes them all at the end, follows redirects like the
http kind, and times each request on its own :class:`Progress` while adding it to the run's total.

What one request saw is an :class:`Exchange`; :func:`step_of` judges it against a step's assertions
into a :class:`StepResult` (the frame redacts steps with the rest of the Result).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urljoin, urlsplit

from livesite.assertions import Assertion, Observation, evaluate
from livesite.checks.context import RunContext
from livesite.config.models import TlsSettings, Zone
from livesite.net.errors import ProbeError
from livesite.net.http1 import (
    Connection,
    Progress,
    Response,
    Target,
    build_request,
    exchange,
    open_connection,
)
from livesite.results import Failure, FailureKind, HttpObservation, Phases, StepResult, decide, status_for

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_OBSERVED_LIMIT = 4096


@dataclass(slots=True)
class Exchange:
    """What one request of a session saw (after its redirects)."""

    url: str  # where it ended
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    redirects: list[str]
    revision: str
    zone: str
    started_offset_seconds: float  # from the start of the session
    duration_seconds: float
    phases: Phases
    observation: HttpObservation

    def view(self) -> Observation:
        """The shape assertions read."""
        return Observation(
            status_code=self.status,
            headers=self.headers,
            body=self.body,
            size_bytes=len(self.body),
            phases=self.phases,
            total_seconds=self.duration_seconds,
            redirects=len(self.redirects),
        )


@dataclass(slots=True)
class _Cookie:
    value: str
    path: str
    expires: float | None  # unix time; None: for the session


@dataclass(slots=True)
class CookieJar:
    """Cookies by host, as the site set them; enough of RFC 6265 for a fake user's session."""

    _by_host: dict[str, dict[str, _Cookie]] = field(default_factory=dict)

    def store(self, host: str, set_cookie: str, now: float) -> None:
        first, *attributes = set_cookie.split(";")
        name, sep, value = first.strip().partition("=")
        if not sep or not name:
            return
        path, expires = "/", None
        for attribute in attributes:
            key, _, arg = attribute.strip().partition("=")
            key = key.lower()
            if key == "path" and arg.startswith("/"):
                path = arg
            elif key == "max-age":
                with contextlib.suppress(ValueError):
                    expires = now + int(arg)
            elif key == "expires" and expires is None:
                try:
                    from email.utils import parsedate_to_datetime

                    expires = parsedate_to_datetime(arg).timestamp()
                except (TypeError, ValueError, IndexError):
                    pass
        jar = self._by_host.setdefault(host.lower(), {})
        if expires is not None and expires <= now:
            jar.pop(name, None)
        else:
            jar[name] = _Cookie(value.strip().strip('"'), path, expires)

    def header(self, host: str, path: str, now: float) -> str:
        jar = self._by_host.get(host.lower(), {})
        return "; ".join(
            f"{name}={c.value}"
            for name, c in jar.items()
            if path.startswith(c.path) and (c.expires is None or c.expires > now)
        )

    def get(self, host: str, name: str) -> str | None:
        cookie = self._by_host.get(host.lower(), {}).get(name)
        return cookie.value if cookie is not None else None

    def values(self) -> list[str]:
        """Every value held: secrets of the run (session cookies), for redaction."""
        return [c.value for jar in self._by_host.values() for c in jar.values() if c.value]


def zone_url(url: str, zone: Zone) -> str:
    """A path is relative to the zone's base_url; an absolute URL is used as written."""
    if url.startswith("/") and zone.base_url:
        return zone.base_url.rstrip("/") + url
    return url


class Session:
    """The requests of one run as one identity; ``async with Session(ctx) as s: await s.request(...)``."""

    def __init__(
        self,
        ctx: RunContext,
        *,
        tls: TlsSettings | None = None,
        max_body_bytes: int = 10 * 1024 * 1024,
        revision_header: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.tls = tls or TlsSettings()
        self.max_body_bytes = max_body_bytes
        self.revision_header = (revision_header or ctx.defaults.revision_header).lower()
        self.cookies = CookieJar()
        # By zone too: two zones may name one host that each resolves to its own address.
        self._connections: dict[tuple[str, str, str, int], Connection] = {}
        self._t0 = time.perf_counter()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def zone(self, name: str | None) -> Zone:
        if name is None or name == self.ctx.zone.name:
            return self.ctx.zone
        for zone in self.ctx.zones:
            if zone.name == name:
                return zone
        raise ProbeError(FailureKind.internal, f"no zone named {name!r}")

    def offset(self) -> float:
        """Seconds since the session started (a step's start offset)."""
        return time.perf_counter() - self._t0

    async def request(
        self,
        method: str,
        url: str,
        *,
        zone: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        follow_redirects: bool = True,
        max_redirects: int = 10,
    ) -> Exchange:
        """Send one request (and follow its redirects) as the run's identity, in ``zone`` (default:
        the run's). Raises ProbeError when no answer came."""
        where = self.zone(zone)
        progress = Progress()
        started = self.offset()
        t0 = time.perf_counter()
        try:
            url = zone_url(url, where)
            chain: list[str] = []
            seen = {url}
            sent = self._headers(headers, body)
            while True:
                response, ip_protocol = await self._one(method, url, sent, body, where, progress)
                answer = response.header_map()
                location = answer.get("location")
                if not (follow_redirects and response.status in _REDIRECTS and location):
                    break
                next_url = urljoin(url, location)
                chain.append(next_url)
                if next_url in seen:
                    raise ProbeError(FailureKind.http, f"redirect loop: {' → '.join(chain)}")
                if len(chain) > max_redirects:
                    raise ProbeError(FailureKind.http, f"more than {max_redirects} redirects")
                if urlsplit(next_url).scheme not in ("http", "https"):
                    raise ProbeError(FailureKind.http, f"redirect to a non-http URL: {next_url}")
                if urlsplit(next_url).netloc != urlsplit(url).netloc:
                    sent = [h for h in sent if h[0].lower() not in _CREDENTIAL_HEADERS]
                if response.status == 303 or (
                    response.status in (301, 302) and method not in ("GET", "HEAD")
                ):
                    method, body = "GET", None
                    sent = [h for h in sent if h[0].lower() not in ("content-type", "content-length")]
                seen.add(next_url)
                url = next_url
        finally:
            self.ctx.progress.add(progress)
        length = answer.get("content-length", "")
        return Exchange(
            url=url,
            status=response.status,
            headers=answer,
            body=response.body,
            redirects=chain,
            revision=answer.get(self.revision_header, ""),
            zone=where.name,
            started_offset_seconds=started,
            duration_seconds=time.perf_counter() - t0,
            phases=Phases(
                resolve=progress.resolve,
                connect=progress.connect,
                tls=progress.tls,
                processing=progress.processing,
                transfer=progress.transfer,
            ),
            observation=HttpObservation(
                status_code=response.status,
                content_length=int(length) if length.isdigit() else -1,
                body_bytes=len(response.body),
                redirects=chain,
                http_version=response.http_version,
                ip_protocol=ip_protocol,
            ),
        )

    def _headers(self, given: Sequence[tuple[str, str]], body: bytes | None) -> list[tuple[str, str]]:
        ctx = self.ctx
        headers = [*given, *ctx.identity.request_headers(ctx.defaults.route_header)]
        names = {k.lower() for k, _ in headers}
        if "user-agent" not in names:
            headers.append(("User-Agent", ctx.defaults.user_agent))
        if "accept" not in names:
            headers.append(("Accept", "*/*"))
        if body is not None and "content-type" not in names:
            headers.append(("Content-Type", "application/json"))
        return headers

    async def _one(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        zone: Zone,
        progress: Progress,
    ) -> tuple[Response, int]:
        target = Target.parse(url)
        now = self.ctx.clock.time()
        jar = self.cookies.header(target.host, urlsplit(url).path or "/", now)
        if jar:
            merged = [(k, v) for k, v in headers if k.lower() != "cookie"]
            own = next((v for k, v in headers if k.lower() == "cookie"), "")
            merged.append(("Cookie", f"{own}; {jar}" if own else jar))
            headers = merged
        request = build_request(method, target, headers, body, keep_alive=True)
        origin = (zone.name, target.scheme, target.host, target.port)
        connection = self._connections.pop(origin, None)
        if connection is not None and not connection.usable:
            connection.close()
            connection = None
        response = None
        if connection is not None:
            connection.protocol.reset()
            connection.protocol.progress = progress
            try:
                response = await exchange(connection, request, progress, url)
            except ProbeError as e:
                connection.abort()
                # A kept connection the server closed while idle says nothing about the site.
                if e.kind is not FailureKind.protocol or connection.protocol.first_byte_at:
                    raise
                response = None
            except BaseException:
                connection.abort()
                raise
        if response is None:
            connection = await open_connection(
                target,
                progress=progress,
                overrides=zone.resolve,
                ssl_context=self.ctx.resources.ssl_context(self.tls) if target.scheme == "https" else None,
                server_name=self.tls.server_name,
                max_body_bytes=self.max_body_bytes,
                resolver=self.ctx.resources.resolver,
            )
            try:
                response = await exchange(connection, request, progress, url)
            except BaseException:
                connection.abort()
                raise
        assert connection is not None
        if connection.usable:
            # Two requests to one origin at once each had a connection; keep one, close the other.
            kept = self._connections.pop(origin, None)
            if kept is not None and kept is not connection:
                kept.close()
            self._connections[origin] = connection
        else:
            connection.close()
        for name, value in response.headers:
            if name.lower() == "set-cookie":
                self.cookies.store(target.host, value, now)
        family = 6 if ":" in connection.address else 4 if connection.address else 0
        return response, family


def step_of(
    name: str,
    rules: Sequence[Assertion],
    seen: Exchange | None,
    *,
    failure: Failure | None = None,
    started_offset_seconds: float = 0.0,
    duration_seconds: float | None = None,
    target: str = "",
) -> StepResult:
    """Judge one step: what its request saw against its assertions (or the failure that stopped it)."""
    if seen is None or failure is not None:
        failure = failure or Failure(kind=FailureKind.internal, message="the step saw nothing")
        return StepResult(
            name=name,
            status=status_for(failure),
            started_offset_seconds=started_offset_seconds,
            duration_seconds=duration_seconds or 0.0,
            failure=Failure(kind=failure.kind, message=failure.message, step=name),
            target=target,
        )
    outcomes = evaluate(list(rules), seen.view(), observed_limit=_OBSERVED_LIMIT)
    status, assertion_failure = decide(outcomes)
    if assertion_failure is not None:
        assertion_failure = Failure(kind=assertion_failure.kind, message=assertion_failure.message, step=name)
    return StepResult(
        name=name,
        status=status,
        started_offset_seconds=seen.started_offset_seconds,
        duration_seconds=seen.duration_seconds if duration_seconds is None else duration_seconds,
        failure=assertion_failure,
        assertions=outcomes,
        phases=seen.phases,
        target=seen.url,
        revision=seen.revision,
        observation=seen.observation,
    )
