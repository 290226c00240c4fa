"""Seeded defects: named, parameterised faults a shop revision can carry.

A defect is written `name` or `name:param` (`checkout-errors:0.3`, `slow:300`). Parsing is pure and happens
before any process starts, so an unknown name fails fast with the list of valid ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from livesite.demo.errors import DefectError


class Defects(BaseModel):
    """The parsed defects of one shop revision (all off by default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    checkout_error_rate: float = 0.0
    extra_latency_ms: int = 0
    broken_link: bool = False
    missing_anchor: bool = False
    stale_purge_zone_b: bool = False
    token_no_expiry: bool = False
    stale_zone: str | None = None
    no_failover: bool = False


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise ValueError("a number between 0 and 1")
    return value


def _milliseconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 60_000:
        raise ValueError("whole milliseconds between 0 and 60000")
    return value


def _zone(text: str) -> str:
    if not text or not all(c.isalnum() or c == "-" for c in text):
        raise ValueError("a zone name such as zone-b")
    return text


@dataclass(frozen=True)
class DefectKind:
    """One entry of the defect registry."""

    name: str
    field: str
    summary: str
    observed: str
    param: str | None = None
    default: str | None = None
    parse: Callable[[str], object] | None = None


DEFECTS: Mapping[str, DefectKind] = {
    d.name: d
    for d in (
        DefectKind(
            "checkout-errors",
            "checkout_error_rate",
            "checkout fails with HTTP 500 at the given rate",
            "POST /api/checkout answers 500 {'error': 'checkout failed'} for about RATE of the calls",
            param="RATE",
            default="0.5",
            parse=_rate,
        ),
        DefectKind(
            "slow",
            "extra_latency_ms",
            "every shop response except /health takes MS milliseconds longer",
            "GET /products takes at least MS ms more than on a healthy revision",
            param="MS",
            default="300",
            parse=_milliseconds,
        ),
        DefectKind(
            "broken-link",
            "broken_link",
            "the home page links to /sale, which does not exist",
            'GET / contains href="/sale"; GET /sale answers 404',
        ),
        DefectKind(
            "missing-anchor",
            "missing_anchor",
            "product pages link to #reviews but the element with id=reviews is gone",
            'GET /products/1 contains href="#reviews" and no id="reviews"',
        ),
        DefectKind(
            "stale-purge-zone-b",
            "stale_purge_zone_b",
            "the shop's purge fan-out skips zone-b's edge cache",
            "after PUT /api/admin/products/1 the zone-b edge still serves the old price (X-Cache: HIT)",
        ),
        DefectKind(
            "token-no-expiry",
            "token_no_expiry",
            "access tokens are still accepted after their TTL",
            "GET /api/me with an expired token answers 200 instead of 401",
        ),
        DefectKind(
            "stale-zone",
            "stale_zone",
            "the deploy never reaches ZONE: its instances keep running the previous revision",
            "GET /version through ZONE's URL reports the previous revision in X-Version",
            param="ZONE",
            default="zone-b",
            parse=_zone,
        ),
        DefectKind(
            "no-failover",
            "no_failover",
            "the zones' fronts neither retry a request on another instance nor health-check them",
            "with one shop instance of a zone killed, about half of that zone's requests answer 502",
        ),
    )
}


def valid_names() -> str:
    """The valid defects as one line, e.g. for an error message."""
    return ", ".join(d.name if d.param is None else f"{d.name}[:{d.param}]" for d in DEFECTS.values())


def parse_defect(text: str) -> tuple[DefectKind, object]:
    """Parse `name` or `name:param` into its registry entry and value.

    Raises:
        DefectError: the name is unknown or the parameter is malformed.
    """
    name, sep, param = text.strip().partition(":")
    kind = DEFECTS.get(name)
    if kind is None:
        raise DefectError(f"unknown defect {text!r}", hint=f"valid defects: {valid_names()}")
    if kind.parse is None:
        if sep:
            raise DefectError(f"defect {name!r} takes no parameter (got {text!r})", hint=f"write {name}")
        return kind, True
    raw = param if sep else (kind.default or "")
    try:
        return kind, kind.parse(raw)
    except ValueError as exc:
        raise DefectError(
            f"defect {text!r}: {kind.param} must be {exc}",
            hint=f"write {name}:{kind.param}, e.g. {name}:{kind.default}",
        ) from exc


def parse_defects(texts: Iterable[str]) -> Defects:
    """Parse defect strings into one `Defects` value.

    Raises:
        DefectError: a defect is unknown, malformed or given twice.
    """
    values: dict[str, object] = {}
    for text in texts:
        kind, value = parse_defect(text)
        if kind.field in values:
            raise DefectError(f"defect {kind.name!r} is given twice", hint="give each defect once")
        values[kind.field] = value
    return Defects.model_validate(values)


def canonical(texts: Iterable[str]) -> list[str]:
    """Validate defect strings and return them normalised (`slow` becomes `slow:300`).

    Raises:
        DefectError: as `parse_defects`.
    """
    out: list[str] = []
    for text in texts:
        kind, value = parse_defect(text)
        out.append(kind.name if kind.parse is None else f"{kind.name}:{value}")
    parse_defects(out)
    return out
