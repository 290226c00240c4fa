"""Toxiproxy's JSON, both ways: request bodies → typed inputs (errors as Toxiproxy's 400s), and
proxies and toxics → the JSON Toxiproxy answers with (plus ``ttl`` and ``expires_in`` on toxics that
have a TTL, fields Toxiproxy's clients ignore)."""

from __future__ import annotations

import json
import math

from pydantic import BaseModel, ConfigDict, ValidationError

from livesite.config.types import parse_duration
from livesite.dataplane.faultproxy.errors import INVALID_STREAM, INVALID_TOXIC_TYPE, ApiError, bad_body
from livesite.dataplane.faultproxy.proxy import Proxy
from livesite.dataplane.faultproxy.toxics import STREAMS, TOXICS, Attributes, ToxicEntry

MAX_BODY_BYTES = 1 << 20
MAX_NAME_CHARS = 200
MAX_TTL_SECONDS = 7 * 86400.0


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(body: bytes) -> object:
    """A request body as JSON, or Toxiproxy's 400 ``bad request body: ...``."""
    if not body.strip():
        raise bad_body("EOF")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        raise bad_body(str(e)[:200]) from None


def _why(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


class _Input(BaseModel):
    # JSON types are checked as Go's decoder does (a string is no number); unknown fields are
    # ignored, as Toxiproxy ignores them (clients send whole proxy objects back).
    model_config = ConfigDict(strict=True, extra="ignore")

    @classmethod
    def parse(cls, data: object) -> _Input:
        if not isinstance(data, dict):
            raise bad_body(f"want a JSON object, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise bad_body(_why(e)) from None


class ProxyInput(_Input):
    name: str = ""
    listen: str = ""
    upstream: str = ""
    enabled: bool | None = None


class ToxicInput(_Input):
    name: str = ""
    type: str = ""
    stream: str = "downstream"
    toxicity: float | None = None
    attributes: dict[str, object] | None = None
    ttl: float | str | None = None


def proxy_input(data: object) -> ProxyInput:
    parsed = ProxyInput.parse(data)
    assert isinstance(parsed, ProxyInput)
    if len(parsed.name) > MAX_NAME_CHARS:
        raise bad_body(f"name: longer than {MAX_NAME_CHARS} characters")
    return parsed


def toxic_input(data: object) -> ToxicInput:
    parsed = ToxicInput.parse(data)
    assert isinstance(parsed, ToxicInput)
    return parsed


def ttl_seconds(value: object) -> float:
    """A TTL as seconds: a number, or a duration such as ``"30s"`` or ``"10m"``; more than 0."""
    try:
        seconds = parse_duration(value)
    except ValueError as e:
        raise bad_body(f"ttl: {e}") from None
    if seconds <= 0 or seconds > MAX_TTL_SECONDS:
        raise bad_body(f"ttl: must be more than 0 and at most {MAX_TTL_SECONDS:g} seconds")
    return seconds


def _toxicity(value: float | None, default: float) -> float:
    if value is None:
        return default
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise bad_body("toxicity: must be between 0 and 1")
    return float(value)


def _attributes(type_name: str, given: dict[str, object], base: Attributes | None) -> Attributes:
    model = TOXICS[type_name]
    merged = {**(base.model_dump() if base is not None else {}), **given}
    try:
        return model.model_validate(merged)
    except ValidationError as e:
        raise bad_body(f"attributes.{_why(e)}") from None


def _split_ttl(toxic: ToxicInput) -> tuple[dict[str, object], object]:
    """Clients that can only send attributes (every Toxiproxy client) may put ``ttl`` there."""
    attributes = dict(toxic.attributes or {})
    ttl = attributes.pop("ttl", None)
    return attributes, toxic.ttl if toxic.ttl is not None else ttl


def new_toxic(data: object, now: float, default_ttl_seconds: float | None) -> ToxicEntry:
    """A toxic from a create request, checked in Toxiproxy's order (stream, type, then attributes).

    Raises:
        ApiError: 400 for a bad body, stream, type or attribute.
    """
    toxic = toxic_input(data)
    stream = toxic.stream.lower()
    if stream not in STREAMS:
        raise INVALID_STREAM
    name = toxic.name or f"{toxic.type}_{stream}"
    if len(name) > MAX_NAME_CHARS:
        raise bad_body(f"name: longer than {MAX_NAME_CHARS} characters")
    if toxic.type not in TOXICS:
        raise INVALID_TOXIC_TYPE
    attributes, ttl = _split_ttl(toxic)
    seconds = ttl_seconds(ttl) if ttl is not None else default_ttl_seconds
    return ToxicEntry(
        name=name,
        type=toxic.type,
        stream=stream,
        toxicity=_toxicity(toxic.toxicity, 1.0),
        attributes=_attributes(toxic.type, attributes, None),
        ttl_seconds=seconds,
        expires_at=now + seconds if seconds is not None else None,
    )


def changed_toxic(current: ToxicEntry, data: object, now: float) -> ToxicEntry:
    """A toxic after an update request: given attributes replace theirs, the rest stay; a new
    ``ttl`` starts again from now."""
    toxic = toxic_input(data)
    attributes, ttl = _split_ttl(toxic)
    update: dict[str, object] = {
        "toxicity": _toxicity(toxic.toxicity, current.toxicity),
        "attributes": _attributes(current.type, attributes, current.attributes),
    }
    if ttl is not None:
        seconds = ttl_seconds(ttl)
        update |= {"ttl_seconds": seconds, "expires_at": now + seconds}
    return current.model_copy(update=update)


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def toxic_json(entry: ToxicEntry, now: float) -> dict[str, object]:
    body: dict[str, object] = {
        "attributes": entry.attributes.model_dump(),
        "name": entry.name,
        "type": entry.type,
        "stream": entry.stream,
        "toxicity": _number(entry.toxicity),
    }
    if entry.ttl_seconds is not None and entry.expires_at is not None:
        body["ttl"] = _number(entry.ttl_seconds)
        body["expires_in"] = round(max(entry.expires_at - now, 0.0), 3)
    return body


def proxy_json(proxy: Proxy, now: float) -> dict[str, object]:
    return {
        "name": proxy.name,
        "listen": proxy.listen,
        "upstream": proxy.upstream,
        "enabled": proxy.enabled,
        "toxics": [toxic_json(t, now) for t in proxy.toxic_list()],
    }


__all__ = ["MAX_BODY_BYTES", "ApiError", "parse_json"]
