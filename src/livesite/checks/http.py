"""The http kind: one request (and its redirects), as blackbox_exporter's http prober sees it.

Without an assertion on ``status`` (or a ``valid_status`` list) an answer must be 2xx, as blackbox's
``http_2xx`` module expects: a 500 with no assertions is a failure, not a pass.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Literal
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from pydantic import Field, JsonValue, field_validator, model_validator

from livesite.assertions import Assertion, Observation, parse
from livesite.checks.certs import TLS_METRICS, expired_reason, tls_info, tls_samples
from livesite.checks.context import RunContext
from livesite.checks.kind import FAILED_DUE_TO_REGEX, IP_PROTOCOL, Kind, Metric, Sample, Seen
from livesite.checks.sockets import ip_protocol, ip_protocol_of, peer_chain, time_left
from livesite.config.models import Auth, CheckBase, TlsSettings, Zone
from livesite.net.errors import CERT_HAS_EXPIRED, ProbeError
from livesite.net.http1 import Connection, Response, Target, build_request, exchange, open_connection
from livesite.net.resolve import answer_without_lookup, resolve
from livesite.results import Failure, FailureKind, HttpObservation, Result

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_SECRET_HEADERS = frozenset({"authorization", "cookie", "x-api-key", "proxy-authorization"})


class HttpCheck(CheckBase):
    SUBJECTS: ClassVar[frozenset[str]] = frozenset(
        {"status", "latency", "header", "body", "json", "size", "cert.days_left", "redirects"}
    )

    kind: Literal["http"] = "http"
    url: str
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: JsonValue | None = Field(None, alias="json")
    form: dict[str, str] | None = None
    body: str | None = None
    auth: Auth | None = None
    follow_redirects: bool = True
    max_redirects: int = Field(10, ge=0, le=50)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    reuse_connection: bool = False
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=0)
    revision_header: str | None = None
    valid_status: list[int] | None = Field(
        None, description="statuses that pass when no assertion names status; default 2xx"
    )

    @model_validator(mode="after")
    def _one_body(self) -> HttpCheck:
        given = [
            k
            for k, v in (("json", self.json_body), ("form", self.form), ("body", self.body))
            if v is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give one request body, not {' and '.join(given)}")
        return self

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v.startswith("/"):
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"url {v!r} must be absolute (http(s)://host/...) or a path starting with / for zones"
            )
        if parts.username is not None:
            raise ValueError(
                "credentials in the url are not sent (hint: use auth: {basic: {username, password}})"
            )
        return v

    def implied(self) -> list[Assertion]:
        if any(rule.subject.name == "status" for rule in self.assertions):
            return []
        if self.valid_status:
            return [parse(f"status in [{', '.join(str(s) for s in self.valid_status)}]")]
        return [_STATUS_2XX]

    def secrets(self) -> list[str]:
        found: list[str] = []
        if self.auth is not None and self.auth.basic is not None:
            basic = self.auth.basic
            found.append(basic.password)
            # What goes on the wire is base64(user:password); a server that echoes headers back
            # (httpbin's /headers, a debug page) would otherwise put it in an observed value.
            found.append(base64.b64encode(f"{basic.username}:{basic.password}".encode()).decode())
        if self.auth is not None and self.auth.bearer is not None:
            found.append(self.auth.bearer.token)
        found += [v for k, v in self.headers.items() if k.lower() in _SECRET_HEADERS]
        if self._substituted:
            # ${VAR} values that land in a header, the query or the body are treated as secrets.
            query = [v for _, v in parse_qsl(urlsplit(self.url).query)]
            sent = [*self.headers.values(), *query, self.body or "", *(self.form or {}).values()]
            if self.json_body is not None:
                sent.append(json.dumps(self.json_body))
            found += [v for v in self._substituted if any(v in s for s in sent)]
        return found


_STATUS_2XX = parse("status in 200..299")


def _leaves_origin(url: str, next_url: str) -> bool:
    """A redirect to another scheme, host or port; http → https on the same host stays (as in requests)."""
    old, new = Target.parse(url), Target.parse(next_url)
    if old.host != new.host:
        return True
    upgrade = (old.scheme, old.port, new.scheme, new.port) == ("http", 80, "https", 443)
    return not upgrade and (old.scheme, old.port) != (new.scheme, new.port)


def resolve_url(url: str, zone: Zone) -> str:
    """A path is relative to the zone's base_url; an absolute URL is used as written."""
    if url.startswith("/") and zone.base_url:
        return zone.base_url.rstrip("/") + url
    return url


def _request_body(spec: HttpCheck) -> tuple[bytes | None, str | None]:
    if spec.json_body is not None:
        return json.dumps(spec.json_body, separators=(",", ":")).encode(), "application/json"
    if spec.form is not None:
        return urlencode(spec.form).encode(), "application/x-www-form-urlencoded"
    if spec.body is not None:
        return spec.body.encode(), None
    return None, None


def _headers(spec: HttpCheck, ctx: RunContext, content_type: str | None) -> list[tuple[str, str]]:
    headers = [*spec.headers.items(), *ctx.identity.request_headers(ctx.defaults.route_header)]
    given = {k.lower() for k, _ in headers}
    if "user-agent" not in given:
        headers.append(("User-Agent", ctx.defaults.user_agent))
    if "accept" not in given:
        headers.append(("Accept", "*/*"))
    if content_type and "content-type" not in given:
        headers.append(("Content-Type", content_type))
    if spec.auth is not None and "authorization" not in given:
        if spec.auth.basic is not None:
            pair = f"{spec.auth.basic.username}:{spec.auth.basic.password}".encode()
            headers.append(("Authorization", "Basic " + base64.b64encode(pair).decode()))
        elif spec.auth.bearer is not None:
            headers.append(("Authorization", f"Bearer {spec.auth.bearer.token}"))
    return headers


@dataclass(slots=True)
class _Exchange:
    response: Response
    tls: object  # the connection's ssl object, read before the connection is closed
    ip_protocol: int


async def _fetch(
    spec: HttpCheck,
    ctx: RunContext,
    url: str,
    method: str,
    body: bytes | None,
    headers: list[tuple[str, str]],
    prepared: tuple[Target, bytes] | None = None,
) -> _Exchange:
    if prepared is not None:
        target, request = prepared
    else:
        target = Target.parse(url)
        request = build_request(method, target, headers, body, keep_alive=spec.reuse_connection)
    kept = _kept_connection(spec, ctx, target)
    if kept is not None:
        try:
            return await _send(spec, ctx, kept, request, url)
        except ProbeError as e:
            # The server may close an idle kept-alive connection at any time (its keep-alive timeout);
            # that says nothing about the site, so it gets one fresh connection, as browsers do.
            if e.kind is not FailureKind.protocol or kept.protocol.first_byte_at:
                raise
    connection = await open_connection(
        target,
        progress=ctx.progress,
        overrides=ctx.zone.resolve,
        ssl_context=ctx.resources.ssl_context(spec.tls) if target.scheme == "https" else None,
        server_name=spec.tls.server_name,
        max_body_bytes=spec.max_body_bytes,
        resolver=ctx.resources.resolver,
    )
    return await _send(spec, ctx, connection, request, url)


def _kept_connection(spec: HttpCheck, ctx: RunContext, target: Target) -> Connection | None:
    if not spec.reuse_connection:
        return None
    connection = ctx.resources.take_connection(spec.name, ctx.zone.name, ctx.identity)
    if connection is not None and not connection.serves(target):
        connection.close()  # a redirect to another origin: this connection leads elsewhere
        return None
    if connection is not None:
        connection.protocol.reset()
        connection.protocol.progress = ctx.progress
    return connection


async def _send(
    spec: HttpCheck, ctx: RunContext, connection: Connection, request: bytes, url: str
) -> _Exchange:
    try:
        response = await exchange(connection, request, ctx.progress, url)
    except BaseException:
        connection.abort()
        raise
    transport = connection.transport
    # The address it connected to says the family without asking the socket (a syscall per probe).
    family = ip_protocol_of(connection.address) if connection.address else ip_protocol(transport)
    seen = _Exchange(response, transport.get_extra_info("ssl_object"), family)
    if spec.reuse_connection and connection.usable:
        ctx.resources.keep_connection(spec.name, ctx.zone.name, ctx.identity, connection)
    else:
        connection.close()
    return seen


@dataclass(frozen=True, slots=True)
class _Prepared:
    """The first request of a check in a zone, as an identity: the same for every run, so built once."""

    url: str
    body: bytes | None
    headers: list[tuple[str, str]]
    target: Target
    request: bytes
    ip_protocol: int  # of the target's address when known without a lookup; else 0


def _prepare(spec: HttpCheck, ctx: RunContext) -> _Prepared:
    url = resolve_url(spec.url, ctx.zone)
    body, content_type = _request_body(spec)
    headers = _headers(spec, ctx, content_type)
    target = Target.parse(url)
    request = build_request(spec.method, target, headers, body, keep_alive=spec.reuse_connection)
    return _Prepared(url, body, headers, target, request, _ip_protocol_hint(target.host, ctx.zone))


def _ip_protocol_hint(host: str, zone: Zone) -> int:
    """The address family of ``host`` if a zone override or the name itself says it (no lookup)."""
    ip = zone.resolve.get(host)
    if ip is None:
        try:
            ip = next(iter(answer_without_lookup(host) or ()), None)
        except ProbeError:
            return 0  # a .invalid name: the run fails with dns, and has no address family
    return ip_protocol_of(ip) if ip else 0


async def _expired(spec: HttpCheck, ctx: RunContext, url: str) -> ProbeError:
    """Why the certificate is expired: which one, and its notAfter (read with a second handshake)."""
    target = Target.parse(url)
    # The address the failed handshake went to; resolved anew only if net/ never got that far.
    ip = ctx.progress.address or await resolve(target.host, ctx.zone.resolve, ctx.resources.resolver)
    server_name = spec.tls.server_name or target.host
    no_verify = ctx.resources.ssl_context(spec.tls.model_copy(update={"verify": False}))
    chain = await peer_chain(ip, target.port, server_name, no_verify, time_left(ctx, spec) / 2)
    where = f"{target.host}:{target.port}"
    return ProbeError(FailureKind.tls, expired_reason(where, chain, ctx.now()), verify_code=CERT_HAS_EXPIRED)


async def run(spec: CheckBase, ctx: RunContext) -> Seen:
    assert isinstance(spec, HttpCheck)
    chain: list[str] = []
    family = 0  # the first target's address family, once known
    try:
        key = f"http\0{ctx.zone.name}\0{ctx.identity.key}"
        first = ctx.resources.memo(spec, key, lambda: _prepare(spec, ctx))
        family = first.ip_protocol
        url, body, headers, method = first.url, first.body, first.headers, spec.method
        ctx.target = url
        seen = {url}
        while True:
            prepared = (first.target, first.request) if not chain else None
            try:
                got = await _fetch(spec, ctx, url, method, body, headers, prepared)
            except ProbeError as e:
                if e.verify_code == CERT_HAS_EXPIRED:
                    raise await _expired(spec, ctx, url) from None
                raise
            if not chain:
                family = got.ip_protocol
            response = got.response
            answer = response.header_map()
            location = answer.get("location")
            if not (spec.follow_redirects and response.status in _REDIRECTS and location):
                break
            next_url = urljoin(url, location)
            chain.append(next_url)
            failure = None
            if next_url in seen:
                failure = Failure(kind=FailureKind.http, message=f"redirect loop: {' → '.join(chain)}")
            elif len(chain) > spec.max_redirects:
                failure = Failure(kind=FailureKind.http, message=f"more than {spec.max_redirects} redirects")
            elif urlsplit(next_url).scheme not in ("http", "https"):
                failure = Failure(kind=FailureKind.http, message=f"redirect to a non-http URL: {next_url}")
            if failure is not None:
                return _seen(spec, ctx, got, answer, chain, failure)
            if _leaves_origin(url, next_url):
                # As curl and requests do: credentials are for the host they were written for.
                headers = [h for h in headers if h[0].lower() not in _CREDENTIAL_HEADERS]
            if response.status == 303 or (response.status in (301, 302) and method not in ("GET", "HEAD")):
                method, body = "GET", None
                headers = [h for h in headers if h[0].lower() not in ("content-type", "content-length")]
            seen.add(next_url)
            url = next_url
            ctx.target = url  # where the redirects led
        return _seen(spec, ctx, got, answer, chain, None)
    except BaseException:  # a ProbeError, or the deadline's cancellation
        # What blackbox exports when no answer came: no length, where the redirects led so far, and
        # the first target's address family, known once its name resolved (net/ notes the address)
        # even if the connection then failed. Built here, not up front: most runs never need it.
        if not family and ctx.progress.address:
            family = ip_protocol_of(ctx.progress.address)
        ctx.observation = HttpObservation(content_length=0, redirects=list(chain), ip_protocol=family)
        raise


def _seen(
    spec: HttpCheck,
    ctx: RunContext,
    got: _Exchange,
    headers: dict[str, str],
    chain: list[str],
    failure: Failure | None,
) -> Seen:
    """What a check saw in the last answer; ``headers`` is its ``header_map()``."""
    response = got.response
    tls = tls_info(got.tls, ctx.resources) if got.tls is not None else None  # type: ignore[arg-type]
    expiry = tls.earliest_expiry if tls is not None else None
    length = headers.get("content-length", "")
    observation = HttpObservation(
        status_code=response.status,
        content_length=int(length) if length.isdigit() else -1,
        body_bytes=len(response.body),
        redirects=chain,
        http_version=response.http_version,
        ip_protocol=got.ip_protocol,
        tls=tls,
    )
    view = Observation(
        status_code=response.status,
        headers=headers,
        body=response.body,
        size_bytes=len(response.body),
        cert_days_left=(expiry - ctx.now()).total_seconds() / 86400 if expiry else None,
        redirects=len(chain),
    )
    revision = headers.get((spec.revision_header or ctx.defaults.revision_header).lower(), "")
    return Seen(view=view, observation=observation, revision=revision, failure=failure)


METRICS = (
    Metric("probe_http_duration_seconds", "gauge", "Duration of the last http run by phase"),
    Metric("probe_http_status_code", "gauge", "Response HTTP status code of the last run (0: no answer)"),
    Metric("probe_http_content_length", "gauge", "The Content-Length header of the last response (-1: none)"),
    Metric("probe_http_uncompressed_body_length", "gauge", "Bytes of body read in the last response"),
    Metric("probe_http_redirects", "gauge", "The number of redirects followed"),
    Metric("probe_http_ssl", "gauge", "Whether the final request used TLS"),
    Metric("probe_http_version", "gauge", "The HTTP version of the last response"),
    FAILED_DUE_TO_REGEX,
    IP_PROTOCOL,
    *TLS_METRICS,
)

_PHASES = ("resolve", "connect", "tls", "processing", "transfer")


_REGEX_RULE = re.compile(r"\s!?matches\s")


def failed_due_to_regex(result: Result) -> bool:
    """A regular expression rule failed (``matches`` or ``!matches``) and the status did not.

    As blackbox: it reads no regex once the status is wrong, so a 404 is blamed on the status.
    """
    regex = False
    for outcome in result.assertions:
        if outcome.passed or outcome.budget:
            continue
        if outcome.expr.startswith("status"):
            return False
        regex = regex or _REGEX_RULE.search(outcome.expr) is not None
    return regex


def samples(result: Result) -> Iterable[Sample]:
    p = result.phases
    for phase in _PHASES:
        yield "probe_http_duration_seconds", f'phase="{phase}"', getattr(p, phase)
    obs = result.http
    answered = obs is not None and obs.status_code != 0
    yield "probe_http_status_code", "", obs.status_code if obs is not None else 0
    yield "probe_http_content_length", "", obs.content_length if obs is not None and answered else 0
    yield "probe_http_uncompressed_body_length", "", obs.body_bytes if obs is not None else 0
    yield "probe_http_redirects", "", len(obs.redirects) if obs is not None else 0
    yield "probe_http_ssl", "", int(obs is not None and obs.tls is not None)
    # 0 when no answer came, as blackbox exports it.
    yield "probe_http_version", "", float(obs.http_version) if obs is not None and obs.http_version else 0
    yield "probe_failed_due_to_regex", "", int(failed_due_to_regex(result))
    if obs is not None and obs.ip_protocol:
        yield "probe_ip_protocol", "", obs.ip_protocol
    if obs is not None:
        yield from tls_samples(obs.tls)


KIND = Kind(spec=HttpCheck, run=run, metrics=METRICS, samples=samples)
