"""The http check kind: one request (and its redirects), assertions on what came back."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode, urljoin, urlsplit

from livesite.assertions import Observation, evaluate
from livesite.checks.context import RunContext
from livesite.checks.frame import completed, phases_of
from livesite.checks.redact import Redactor
from livesite.config.models import CheckSpec, HttpCheck, Zone
from livesite.net.errors import ProbeError
from livesite.net.http1 import Connection, Response, Target, build_request, exchange, open_connection
from livesite.results import Failure, FailureKind, Result

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


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
    given = {k.lower() for k in spec.headers}
    headers = list(spec.headers.items())
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


async def _fetch(
    spec: HttpCheck,
    ctx: RunContext,
    url: str,
    method: str,
    body: bytes | None,
    headers: list[tuple[str, str]],
    prepared: tuple[Target, bytes] | None = None,
) -> Response:
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
    )
    return await _send(spec, ctx, connection, request, url)


def _kept_connection(spec: HttpCheck, ctx: RunContext, target: Target) -> Connection | None:
    if not spec.reuse_connection:
        return None
    connection = ctx.resources.take_connection(spec.name, ctx.zone.name)
    if connection is not None and not connection.serves(target):
        connection.close()  # a redirect to another origin: this connection leads elsewhere
        return None
    if connection is not None:
        connection.protocol.reset()
        connection.protocol.progress = ctx.progress
    return connection


async def _send(
    spec: HttpCheck, ctx: RunContext, connection: Connection, request: bytes, url: str
) -> Response:
    try:
        response = await exchange(connection, request, ctx.progress, url)
    except BaseException:
        connection.abort()
        raise
    if spec.reuse_connection and connection.usable:
        ctx.resources.keep_connection(spec.name, ctx.zone.name, connection)
    else:
        connection.close()
    return response


@dataclass(frozen=True, slots=True)
class _Prepared:
    """The first request of a check in a zone: the same for every run, so built once."""

    url: str
    shown: str  # the URL as Results may show it (secrets redacted)
    body: bytes | None
    headers: list[tuple[str, str]]
    target: Target
    request: bytes


def _prepare(spec: HttpCheck, ctx: RunContext) -> _Prepared:
    url = resolve_url(spec.url, ctx.zone)
    body, content_type = _request_body(spec)
    headers = _headers(spec, ctx, content_type)
    target = Target.parse(url)
    request = build_request(spec.method, target, headers, body, keep_alive=spec.reuse_connection)
    return _Prepared(url, ctx.resources.redactor(spec).url(url), body, headers, target, request)


async def run(spec: CheckSpec, ctx: RunContext) -> Result:
    assert isinstance(spec, HttpCheck)
    started_at = ctx.now()
    t0 = time.perf_counter()
    redactor = ctx.resources.redactor(spec)
    first = ctx.resources.memo(spec, f"http:{ctx.zone.name}", lambda: _prepare(spec, ctx))
    url, body, headers, method = first.url, first.body, first.headers, spec.method
    ctx.target = first.shown
    chain: list[str] = []
    seen = {url}
    while True:
        try:
            prepared = (first.target, first.request) if not chain else None
            response = await _fetch(spec, ctx, url, method, body, headers, prepared)
        except ProbeError as e:
            return _result(
                spec, ctx, started_at, t0, redactor, url, chain, None, Failure(kind=e.kind, message=e.message)
            )
        location = response.header_map().get("location")
        if not (spec.follow_redirects and response.status in _REDIRECTS and location):
            break
        next_url = urljoin(url, location)
        chain.append(redactor.url(next_url))
        if next_url in seen:
            failure = Failure(kind=FailureKind.http, message=f"redirect loop: {' → '.join(chain)}")
            return _result(spec, ctx, started_at, t0, redactor, url, chain, response, failure)
        if len(chain) > spec.max_redirects:
            failure = Failure(kind=FailureKind.http, message=f"more than {spec.max_redirects} redirects")
            return _result(spec, ctx, started_at, t0, redactor, url, chain, response, failure)
        if urlsplit(next_url).scheme not in ("http", "https"):
            failure = Failure(
                kind=FailureKind.http, message=f"redirect to a non-http URL: {redactor.url(next_url)}"
            )
            return _result(spec, ctx, started_at, t0, redactor, url, chain, response, failure)
        if _leaves_origin(url, next_url):
            # As curl and requests do: credentials are for the host they were written for.
            headers = [h for h in headers if h[0].lower() not in _CREDENTIAL_HEADERS]
        if response.status == 303 or (response.status in (301, 302) and method not in ("GET", "HEAD")):
            method, body = "GET", None
            headers = [h for h in headers if h[0].lower() not in ("content-type", "content-length")]
        seen.add(next_url)
        url = next_url
    return _result(spec, ctx, started_at, t0, redactor, url, chain, response, None)


def _result(
    spec: HttpCheck,
    ctx: RunContext,
    started_at: datetime,
    t0: float,
    redactor: Redactor,
    url: str,
    chain: list[str],
    response: Response | None,
    failure: Failure | None,
) -> Result:
    duration = time.perf_counter() - t0
    phases = phases_of(ctx)
    revision = ""
    outcomes = []
    not_after = None
    status_code = size = None
    if response is not None:
        headers = response.header_map()
        revision = headers.get((spec.revision_header or ctx.defaults.revision_header).lower(), "")
        status_code, size = response.status, len(response.body)
        if response.peer_cert_der is not None:
            not_after = ctx.resources.cert_not_after(response.peer_cert_der)
        if failure is None:
            days_left = (not_after - ctx.now()).total_seconds() / 86400 if not_after else None
            seen = Observation(
                status_code=response.status,
                headers=headers,
                body=response.body,
                phases=phases,
                total_seconds=duration,
                size_bytes=size,
                cert_days_left=days_left,
                redirects=len(chain),
            )
            outcomes = redactor.outcomes(evaluate([*spec.assertions, *spec.budget], seen))
    if chain:
        ctx.target = redactor.url(url)  # where the redirects led
    return completed(
        spec,
        ctx,
        started_at,
        duration,
        outcomes,
        failure=failure,
        revision=revision,
        status_code=status_code,
        response_bytes=size,
        redirects=chain,
        cert_not_after=not_after,
    )
