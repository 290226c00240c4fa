"""The one place that decides pass or fail. Pure: no I/O, no clock; the observed value is kept."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from livesite.assertions.language import MISSING, ORDER, Assertion, Family, Observation, Op, Operand, Subject
from livesite.results import AssertionOutcome


def evaluate(
    rules: Sequence[Assertion], seen: Observation, *, observed_limit: int = 120
) -> list[AssertionOutcome]:
    """Evaluate every assertion against one observation. Pure: no I/O, no clock.

    Observed values are kept up to ``observed_limit`` characters; the check frame asks for more, so
    that it can redact secrets *before* cutting them to the length a Result shows.
    """
    return [_one(rule, seen, observed_limit) for rule in rules]


def _one(rule: Assertion, seen: Observation, limit: int) -> AssertionOutcome:
    value = _resolve(rule.subject, seen)
    passed = _apply(rule.op, value, rule.operand)
    return AssertionOutcome(
        expr=rule.expr, observed=_show(value, rule.subject, limit), passed=passed, budget=rule.budget
    )


def _resolve(subject: Subject, seen: Observation) -> object:
    name = subject.name
    if name == "status":
        value: object = seen.status_code if seen.status_code is not None else MISSING
    elif name == "latency":
        if subject.arg is None:
            value = seen.total_seconds if seen.total_seconds is not None else MISSING
        else:
            value = getattr(seen.phases, subject.arg) if seen.phases is not None else MISSING
    elif name == "header":
        value = seen.headers.get(subject.arg or "", MISSING)
    elif name == "body":
        value = seen.body
    elif name == "json":
        value = _walk(seen.json(), subject.path)
    elif name == "size":
        value = seen.size_bytes if seen.size_bytes is not None else len(seen.body)
    elif name == "cert.days_left":
        value = seen.cert_days_left if seen.cert_days_left is not None else MISSING
    elif name == "answers":
        value = list(seen.answers)
    elif name == "rcode":
        value = seen.rcode if seen.rcode is not None else MISSING
    elif name == "connected":
        value = seen.connected if seen.connected is not None else MISSING
    else:  # redirects
        value = seen.redirects if seen.redirects is not None else MISSING
    if subject.length and value is not MISSING:
        try:
            return len(value)  # type: ignore[arg-type]
        except TypeError:
            return MISSING
    return value


def _walk(doc: object, path: tuple[str | int, ...]) -> object:
    for key in path:
        if doc is MISSING:
            return doc
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


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str | bytes):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _equal(value: object, operand: Operand) -> bool:
    if operand.number is not None:
        number = _as_number(value)
        if number is not None:
            return number == operand.number
    if isinstance(value, bool) or value is None:
        return value is operand.literal
    if isinstance(value, dict | list):
        return value == operand.literal
    return _as_text(value) == operand.text


def _apply(op: Op, value: object, operand: Operand | None) -> bool:
    if op is Op.exists:
        return value is not MISSING
    if op is Op.not_exists:
        return value is MISSING
    if value is MISSING or operand is None:
        # Nothing to compare: a negative assertion about a missing thing holds.
        return op in (Op.ne, Op.not_in, Op.not_contains, Op.not_matches)
    if op is Op.eq:
        return _equal(value, operand)
    if op is Op.ne:
        return not _equal(value, operand)
    if op in ORDER:
        number = _as_number(value)
        if number is None or operand.number is None:
            return False
        if op is Op.lt:
            return number < operand.number
        if op is Op.le:
            return number <= operand.number
        if op is Op.gt:
            return number > operand.number
        return number >= operand.number
    if op in (Op.in_, Op.not_in):
        return _member(value, operand) is (op is Op.in_)
    if op in (Op.contains, Op.not_contains):
        return _contains(value, operand) is (op is Op.contains)
    assert operand.regex is not None  # parse() compiles it for matches / !matches
    found = operand.regex.search(_as_text(value)) is not None
    return found is (op is Op.matches)


def _member(value: object, operand: Operand) -> bool:
    if operand.low is not None and operand.high is not None:
        number = _as_number(value)
        return number is not None and operand.low <= number <= operand.high
    return any(_equal(value, item) for item in operand.items or ())


def _contains(value: object, operand: Operand) -> bool:
    if isinstance(value, bytes):
        return operand.text.encode() in value
    if isinstance(value, list):
        return any(_equal(item, operand) for item in value)
    if isinstance(value, dict):
        return operand.text in value
    return operand.text in _as_text(value)


def _show(value: object, subject: Subject, limit: int) -> str | None:
    if value is MISSING:
        return None
    family = subject.family
    if family is Family.time and isinstance(value, float):
        return f"{value * 1000:.1f}ms"
    if isinstance(value, bytes):
        text = value[:limit].decode("utf-8", "replace")
        return text + ("…" if len(value) > limit else "")
    if isinstance(value, float) and family is Family.days:
        return f"{value:.1f}d"
    text = _as_text(value) if not isinstance(value, int | float) or isinstance(value, bool) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"
