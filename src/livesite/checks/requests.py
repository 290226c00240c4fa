"""Requests written in a spec, as the multi-request kinds (cache, token, consistency) send them.

A :class:`RequestSpec` is a template: its url, header values and body may use run-time variables
(``${run.nonce}``, ``${user.password}``, ``${steps.login.refresh_token}``), filled by
:func:`prepare` from the values a run has learnt. A JSON body is filled leaf by leaf, so a password
holding a quote stays valid JSON; a text ``body`` is filled as written (for numbers:
``body: '{"price_cents": ${run.nonce}}'``).

It also holds what these kinds share: which zones a check visits, reading a value at a JSON path,
a run's nonce, and the load-time checks of a template's references.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, JsonValue, field_validator, model_validator

from livesite.assertions import AssertionSyntaxError, parse
from livesite.assertions.language import MISSING
from livesite.checks.context import RunContext
from livesite.checks.session import Exchange, Session, zone_url
from livesite.checks.variables import reference_problem, references, render, user_values
from livesite.config.models import CheckBase, Model, Zone
from livesite.config.types import header_name, header_value
from livesite.net.errors import ProbeError
from livesite.results import FailureKind

SECRET_HEADERS = frozenset({"authorization", "cookie", "x-api-key", "proxy-authorization"})


class RequestSpec(Model):
    """One request a check sends; a path is relative to each zone's ``base_url``."""

    url: str
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: JsonValue | None = Field(None, alias="json")
    body: str | None = None
    status: list[Annotated[int, Field(ge=100, le=599)]] | None = Field(
        None, description="statuses that count as success; default 2xx"
    )

    @model_validator(mode="after")
    def _one_body(self) -> RequestSpec:
        if self.json_body is not None and self.body is not None:
            raise ValueError("give json or body, not both")
        return self

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("/", "http://", "https://", "${")):
            raise ValueError(f"url {v[:80]!r} must be a path (/...) or an absolute http(s) URL")
        return v

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            header_name(name, "header")
            header_value(value, f"header {name!r}")
        return v

    @field_validator("json_body")
    @classmethod
    def _finite(cls, v: JsonValue | None) -> JsonValue | None:
        if not _all_finite(v):
            raise ValueError("json holds NaN or Infinity, which JSON cannot carry (hint: write a number)")
        return v

    @field_validator("url")
    @classmethod
    def _no_spaces(cls, v: str) -> str:
        if any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in v):
            raise ValueError(f"url {v[:80]!r} holds a space or a control character (hint: percent-encode it)")
        return v

    def texts(self) -> list[str]:
        """Every template text of this request (for references and secrets)."""
        out = [self.url, *self.headers.values(), self.body or ""]
        if self.json_body is not None:
            out += list(_strings(self.json_body))
        return out

    def references(self) -> list[str]:
        return [ref for text in self.texts() for ref in references(text)]

    def ok(self, status: int) -> bool:
        return status in self.status if self.status else 200 <= status <= 299


def _all_finite(value: JsonValue | None) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_finite(v) for v in value)
    return True


def _strings(value: JsonValue) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _fill(value: JsonValue, values: Mapping[str, str]) -> JsonValue:
    if isinstance(value, str):
        return render(value, values)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def check_references(where: str, requests: Iterable[RequestSpec | None], defined: Iterable[str]) -> None:
    """Raise ValueError (``"<where>: ..."``, so the loader points at that key) for a reference no run
    of this check can fill."""
    known = list(defined)
    for request in requests:
        if request is None:
            continue
        for ref in request.references():
            problem = reference_problem(ref, known)
            if problem:
                raise ValueError(f"{where}: {problem}")


def request_secrets(spec: CheckBase, requests: Iterable[RequestSpec | None]) -> list[str]:
    """Header values that carry credentials, and the ${VAR} values that land in what is sent."""
    found: list[str] = []
    texts: list[str] = []
    for request in requests:
        if request is None:
            continue
        found += [v for k, v in request.headers.items() if k.lower() in SECRET_HEADERS and v]
        texts += request.texts()
    substituted = spec._substituted
    found += [v for v in substituted if v and any(v in t for t in texts)]
    return found


def json_path(text: str, what: str) -> str:
    """Validate a JSON path written as an assertion subject (``json.token``, ``json.items[0].id``)."""
    try:
        rule = parse(f"{text} exists")
    except AssertionSyntaxError as e:
        raise ValueError(
            f"{what} {text[:60]!r} is not a JSON path: {e} (hint: write e.g. json.token)"
        ) from None
    if rule.subject.name != "json" or rule.subject.length:
        raise ValueError(f"{what} {text[:60]!r} is not a JSON path (hint: write e.g. json.token)")
    return text


def read_json(body: bytes, path: str) -> object:
    """The value at ``path`` (a validated JSON path) in a JSON body, or MISSING."""
    try:
        doc: object = json.loads(body)
    except ValueError:
        return MISSING
    for key in parse(f"{path} exists").subject.path:
        if isinstance(key, int):
            if isinstance(doc, list) and -len(doc) <= key < len(doc):
                doc = doc[key]
            else:
                return MISSING
        elif isinstance(doc, dict) and key in doc:
            doc = doc[key]
        else:
            return MISSING
    return doc


def as_text(value: object) -> str:
    """A JSON value as the text a template or a comparison uses."""
    if value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def new_nonce() -> str:
    """A run's nonce: 7 decimal digits, so it fits where a site takes a number (a price, a quantity).

    Kinds that need it to differ from the value they read draw again until it does."""
    return str(1_000_000 + secrets.randbelow(9_000_000))


def run_values(ctx: RunContext, nonce: str) -> dict[str, str]:
    """``run.*`` and ``user.*`` values of a run."""
    now = ctx.clock.time()
    return {
        **user_values(ctx.identity, now),
        "run.zone": ctx.zone.name,
        "run.nonce": nonce,
        "run.now": str(int(now)),
        "run.id": nonce,
    }


def visited_zones(spec: CheckBase, ctx: RunContext) -> list[Zone]:
    """The zones a cross-zone check visits: its ``zones`` in their order, else every zone of the
    config. The run's own zone comes first: it is the one a Result carries, where writes, logins and
    purges sent once go."""
    every = {z.name: z for z in ctx.zones} or {ctx.zone.name: ctx.zone}
    names = spec.zones if spec.zones is not None else list(every)
    visited = [every[n] for n in names if n in every] or [ctx.zone]
    return sorted(visited, key=lambda z: z.name != ctx.zone.name)  # stable: the rest keep their order


@dataclass(frozen=True, slots=True)
class Prepared:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes | None


def prepare(request: RequestSpec, values: Mapping[str, str]) -> Prepared:
    """Fill a request's templates. Raises ProbeError (script) when a variable has no value."""
    try:
        url = render(request.url, values)
        headers = [(k, render(v, values)) for k, v in request.headers.items()]
        body: bytes | None = None
        if request.json_body is not None:
            body = json.dumps(_fill(request.json_body, values), separators=(",", ":")).encode()
        elif request.body is not None:
            body = render(request.body, values).encode()
    except KeyError as e:  # UndefinedVariable
        hint = " (hint: run the check as a fake user with credentials)" if "user." in str(e) else ""
        raise ProbeError(FailureKind.script, f"{e}{hint}") from None
    return Prepared(request.method, url, headers, body)


def target_of(request: RequestSpec, values: Mapping[str, str], zone: Zone) -> str:
    """What a Result names as probed: the request's URL in ``zone`` (as written if it cannot be filled)."""
    try:
        url = render(request.url, values)
    except KeyError:
        url = request.url
    return zone_url(url, zone)


async def send(
    session: Session,
    prepared: Prepared,
    *,
    zone: str | None,
    timeout_seconds: float,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> Exchange:
    """Send a prepared request in ``zone``; no answer within ``timeout_seconds`` is a timeout."""
    try:
        async with asyncio.timeout(timeout_seconds):
            return await session.request(
                prepared.method,
                prepared.url,
                zone=zone,
                headers=[*prepared.headers, *extra_headers],
                body=prepared.body,
            )
    except TimeoutError:
        raise ProbeError(
            FailureKind.timeout, f"{prepared.method} {prepared.url}: no answer within {timeout_seconds:g}s"
        ) from None


def excerpt(seen: Exchange, limit: int = 160) -> str:
    """The start of an answer's body on one line, to say why a request was refused."""
    text = " ".join(seen.body[: limit * 2].decode("utf-8", "replace").split())
    return f": {text[:limit]}" if text else ""
