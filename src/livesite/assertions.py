"""The assertion language, parsed once at load and evaluated by one pure function.

An assertion reads ``<subject> <operator> <operand>``::

    status == 200              status in [200, 204]        status in 200..299
    latency < 300ms            latency.connect < 50ms      size < 100kB
    header.X-Cache == HIT      header.Age < 60             header.Set-Cookie exists
    header.Content-Type matches "json"                     body contains "Add to cart"
    json.items[0].price == 12.5    json.ok == true         len(json.items) >= 3
    cert.days_left > 14        cert.days_left > 48h        answers contains 127.0.0.1

Bare numbers are milliseconds for latency, bytes for size and days for certificates.
:func:`evaluate` is the only place that decides pass or fail; it does no I/O and keeps the value it
observed next to every verdict, so a page or an alert can say *why*.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from livesite.results import AssertionOutcome, Phases

PHASES = ("resolve", "connect", "tls", "processing", "transfer")
SUBJECTS = (
    "status",
    "latency",
    "latency.<phase>",
    "header.<Name>",
    "body",
    "json.<path>",
    "len(<subject>)",
    "size",
    "cert.days_left",
    "answers",
    "connected",
    "redirects",
)


class AssertionSyntaxError(ValueError):
    """An assertion cannot be parsed. The config loader adds file:line to it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class Op(StrEnum):
    eq = "=="
    ne = "!="
    lt = "<"
    le = "<="
    gt = ">"
    ge = ">="
    in_ = "in"
    not_in = "!in"
    contains = "contains"
    not_contains = "!contains"
    matches = "matches"
    not_matches = "!matches"
    exists = "exists"
    not_exists = "!exists"


_UNARY = {Op.exists, Op.not_exists}
_ORDER = {Op.lt, Op.le, Op.gt, Op.ge}

_TIME_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "us": 1e-6}
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_DAY_UNITS = {"d": 1.0, "h": 1 / 24, "w": 7.0}


class Family(StrEnum):
    """How a bare number and its unit are read for a subject."""

    plain = "plain"
    time = "time"  # stored in seconds; bare = milliseconds
    size = "size"  # bytes
    days = "days"


@dataclass(frozen=True, slots=True)
class Subject:
    name: str  # status, latency, header, body, json, size, cert.days_left, answers, connected, redirects
    arg: str | None = None  # phase name, header name (lower case) or json path
    path: tuple[str | int, ...] = ()
    length: bool = False  # len(...)

    @property
    def family(self) -> Family:
        if self.length:
            return Family.plain
        if self.name == "latency":
            return Family.time
        if self.name == "size":
            return Family.size
        if self.name == "cert.days_left":
            return Family.days
        return Family.plain


@dataclass(frozen=True, slots=True)
class Operand:
    raw: str
    text: str = ""
    number: float | None = None
    items: tuple[Operand, ...] | None = None
    low: float | None = None
    high: float | None = None
    regex: re.Pattern[str] | None = None
    literal: object = None  # the JSON reading of the operand (true, null, 3, "x")


@dataclass(frozen=True, slots=True)
class Assertion:
    expr: str
    subject: Subject
    op: Op
    operand: Operand | None
    budget: bool = False


@dataclass(slots=True)
class Observation:
    """What a check saw, in the shape assertions read. Header names are lower case."""

    status_code: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    phases: Phases | None = None
    total_seconds: float | None = None
    size_bytes: int | None = None
    cert_days_left: float | None = None
    answers: Sequence[str] = ()
    connected: bool | None = None
    redirects: int | None = None
    _json: object = field(default=None, repr=False)
    _json_done: bool = field(default=False, repr=False)

    def json(self) -> object:
        if not self._json_done:
            self._json_done = True
            try:
                self._json = json.loads(self.body)
            except ValueError:
                self._json = _MISSING
        return self._json


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: object = _Missing()

# ---------------------------------------------------------------------------------------------- parse

_OP_RE = re.compile(r"(==|!=|<=|>=|<|>|!?in\b|!?contains\b|!?matches\b|!?exists\b)")
_NUM_RE = re.compile(r"^(-?\d+(?:\.\d+)?)\s*([A-Za-z]+)?$")
_RANGE_RE = re.compile(r"^(-?\d+(?:\.\d+)?)\s*\.\.\s*(-?\d+(?:\.\d+)?)$")
_PATH_RE = re.compile(r"\.([^.\[\]]+)|\[(-?\d+)\]|\[\"([^\"]+)\"\]")
# A subject ends at white space or at the first operator character, outside a quoted ["key"].
_SUBJECT_RE = re.compile(r'(?:\["[^"]*"\]|[^\s=!<>])+')


def parse(text: str, *, budget: bool = False) -> Assertion:
    """Parse one assertion.

    Raises:
        AssertionSyntaxError: the text is not an assertion; the message says which part is wrong.
    """
    expr = text.strip()
    if not expr:
        raise AssertionSyntaxError("empty assertion", hint="write e.g. 'status == 200'")
    subject_text, rest = _split_subject(expr)
    subject = _parse_subject(subject_text)
    rest = rest.strip()
    m = _OP_RE.match(rest)
    if m is None:
        raise AssertionSyntaxError(
            f"no operator after {subject_text!r} in {expr!r}",
            hint="operators: == != < <= > >= in !in contains !contains matches !matches exists !exists",
        )
    op = Op(m.group(1))
    operand_text = rest[m.end() :].strip()
    if op in _UNARY:
        if operand_text:
            raise AssertionSyntaxError(f"{op.value!r} takes no operand, found {operand_text!r} in {expr!r}")
        return Assertion(expr, subject, op, None, budget)
    if not operand_text:
        raise AssertionSyntaxError(f"{op.value!r} needs an operand in {expr!r}")
    operand = _parse_operand(operand_text, subject, op, expr)
    return Assertion(expr, subject, op, operand, budget)


def _split_subject(expr: str) -> tuple[str, str]:
    if expr.startswith("len("):
        close = expr.find(")")
        if close < 0:
            raise AssertionSyntaxError(f"unclosed 'len(' in {expr!r}")
        return expr[: close + 1], expr[close + 1 :]
    m = _SUBJECT_RE.match(expr)  # so that 'status==200' and json["a b"] read as meant
    end = m.end() if m else len(expr.split(None, 1)[0])
    return expr[:end], expr[end:]


def _parse_subject(text: str) -> Subject:
    if text.startswith("len(") and text.endswith(")"):
        inner = _parse_subject(text[4:-1].strip())
        if inner.name not in ("body", "json", "header", "answers"):
            raise AssertionSyntaxError(f"len() works on body, json, header or answers, not {inner.name!r}")
        return Subject(inner.name, inner.arg, inner.path, length=True)
    if text in ("status", "body", "size", "cert.days_left", "answers", "connected", "redirects", "latency"):
        return Subject(text)
    if text.startswith("latency."):
        phase = text.split(".", 1)[1]
        if phase not in PHASES:
            raise AssertionSyntaxError(
                f"unknown latency phase {phase!r}", hint=f"phases: {', '.join(PHASES)}"
            )
        return Subject("latency", phase)
    if text.startswith("header."):
        name = text.split(".", 1)[1]
        if not name:
            raise AssertionSyntaxError("header name missing", hint="write e.g. header.Cache-Control")
        return Subject("header", name.lower())
    if text == "json" or text.startswith(("json.", "json[", "$.", "$[")) or text == "$":
        raw = text[4:] if text.startswith("json") else text[1:]
        return Subject("json", raw, _parse_path(raw, text))
    raise AssertionSyntaxError(f"unknown subject {text!r}", hint=f"subjects: {', '.join(SUBJECTS)}")


def _parse_path(raw: str, text: str) -> tuple[str | int, ...]:
    path: list[str | int] = []
    pos = 0
    while pos < len(raw):
        m = _PATH_RE.match(raw, pos)
        if m is None:
            raise AssertionSyntaxError(
                f"bad JSON path {text!r} at {raw[pos:]!r}", hint="write e.g. json.items[0].id"
            )
        key, index, quoted = m.groups()
        path.append(int(index) if index is not None else (quoted if quoted is not None else key))
        pos = m.end()
    return tuple(path)


def _parse_operand(text: str, subject: Subject, op: Op, expr: str) -> Operand:
    if op in (Op.in_, Op.not_in):
        r = _RANGE_RE.match(text)
        if r:
            low, high = _number(r.group(1), None, subject, expr), _number(r.group(2), None, subject, expr)
            if low > high:
                raise AssertionSyntaxError(f"range {text!r} is empty (low > high) in {expr!r}")
            return Operand(text, low=low, high=high)
        if not (text.startswith("[") and text.endswith("]")):
            raise AssertionSyntaxError(
                f"'in' needs a list [a, b] or a range a..b, found {text!r} in {expr!r}"
            )
        inner = text[1:-1].strip()
        items = tuple(_scalar(part.strip(), subject, expr) for part in _split_list(inner)) if inner else ()
        return Operand(text, items=items)
    if op in (Op.matches, Op.not_matches):
        pattern = _unquote(text)
        try:
            return Operand(text, text=pattern, regex=re.compile(pattern))
        except re.error as e:
            raise AssertionSyntaxError(f"bad regular expression {pattern!r}: {e}") from None
        except (RecursionError, OverflowError):
            raise AssertionSyntaxError(f"regular expression too deeply nested in {expr!r}") from None
    operand = _scalar(text, subject, expr)
    if op in _ORDER and operand.number is None:
        raise AssertionSyntaxError(f"{op.value!r} needs a number, found {text!r} in {expr!r}")
    return operand


def _split_list(inner: str) -> list[str]:
    parts, buf, quote = [], [], ""
    for ch in inner:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            buf.append(ch)
        elif ch == ",":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return parts


def _unquote(text: str) -> str:
    """Strip matching quotes; inside, ``\\"`` is a quote (a regex keeps its other backslashes)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        quote = text[0]
        return text[1:-1].replace("\\" + quote, quote)
    return text


def _scalar(text: str, subject: Subject, expr: str) -> Operand:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        inner = _unquote(text).replace("\\\\", "\\")
        return Operand(text, text=inner, literal=inner)
    if text[:1] in ("[", "{"):
        # A JSON list or object, so that 'json.items == [1, 2, 3]' compares the values.
        try:
            return Operand(text, text=text, literal=json.loads(text))
        except (ValueError, RecursionError):
            pass
    m = _NUM_RE.match(text)
    if m:
        number = _number(m.group(1), m.group(2), subject, expr)
        literal: object = int(m.group(1)) if m.group(2) is None and "." not in m.group(1) else number
        return Operand(text, text=text, number=number, literal=literal)
    literal = {"true": True, "false": False, "null": None}.get(text, text)
    return Operand(text, text=text, literal=literal)


def _number(digits: str, unit: str | None, subject: Subject, expr: str) -> float:
    value = float(digits)
    family = subject.family
    if family is Family.time:
        scale = _TIME_UNITS.get(unit or "ms")
        if scale is None:
            raise AssertionSyntaxError(f"unknown time unit {unit!r} in {expr!r}", hint="use ms, s or m")
        return value * scale
    if family is Family.size:
        size = _SIZE_UNITS.get((unit or "b").lower())
        if size is None:
            raise AssertionSyntaxError(
                f"unknown size unit {unit!r} in {expr!r}", hint="use B, kB, MB, KiB, MiB"
            )
        return value * size
    if family is Family.days:
        days = _DAY_UNITS.get(unit or "d")
        if days is None:
            raise AssertionSyntaxError(f"unknown unit {unit!r} for days in {expr!r}", hint="use d, h or w")
        return value * days
    if unit is not None:
        raise AssertionSyntaxError(f"{subject.name} takes no unit, found {unit!r} in {expr!r}")
    return value


# ---------------------------------------------------------------------------------------------- evaluate


def evaluate(rules: Sequence[Assertion], seen: Observation) -> list[AssertionOutcome]:
    """Evaluate every assertion against one observation. Pure: no I/O, no clock."""
    return [_one(rule, seen) for rule in rules]


def _one(rule: Assertion, seen: Observation) -> AssertionOutcome:
    value = _resolve(rule.subject, seen)
    passed = _apply(rule.op, value, rule.operand)
    return AssertionOutcome(
        expr=rule.expr, observed=_show(value, rule.subject), passed=passed, budget=rule.budget
    )


def _resolve(subject: Subject, seen: Observation) -> object:
    name = subject.name
    if name == "status":
        value: object = seen.status_code if seen.status_code is not None else _MISSING
    elif name == "latency":
        if subject.arg is None:
            value = seen.total_seconds if seen.total_seconds is not None else _MISSING
        else:
            value = getattr(seen.phases, subject.arg) if seen.phases is not None else _MISSING
    elif name == "header":
        value = seen.headers.get(subject.arg or "", _MISSING)
    elif name == "body":
        value = seen.body
    elif name == "json":
        value = _walk(seen.json(), subject.path)
    elif name == "size":
        value = seen.size_bytes if seen.size_bytes is not None else len(seen.body)
    elif name == "cert.days_left":
        value = seen.cert_days_left if seen.cert_days_left is not None else _MISSING
    elif name == "answers":
        value = list(seen.answers)
    elif name == "connected":
        value = seen.connected if seen.connected is not None else _MISSING
    else:  # redirects
        value = seen.redirects if seen.redirects is not None else _MISSING
    if subject.length and value is not _MISSING:
        try:
            return len(value)  # type: ignore[arg-type]
        except TypeError:
            return _MISSING
    return value


def _walk(doc: object, path: tuple[str | int, ...]) -> object:
    for key in path:
        if doc is _MISSING:
            return doc
        if isinstance(key, int):
            if isinstance(doc, list) and -len(doc) <= key < len(doc):
                doc = doc[key]
            else:
                return _MISSING
        elif isinstance(doc, dict) and key in doc:
            doc = doc[key]
        else:
            return _MISSING
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
        return value is not _MISSING
    if op is Op.not_exists:
        return value is _MISSING
    if value is _MISSING or operand is None:
        # Nothing to compare: a negative assertion about a missing thing holds.
        return op in (Op.ne, Op.not_in, Op.not_contains, Op.not_matches)
    if op is Op.eq:
        return _equal(value, operand)
    if op is Op.ne:
        return not _equal(value, operand)
    if op in _ORDER:
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


def _show(value: object, subject: Subject) -> str | None:
    if value is _MISSING:
        return None
    family = subject.family
    if family is Family.time and isinstance(value, float):
        return f"{value * 1000:.1f}ms"
    if isinstance(value, bytes):
        text = value[:120].decode("utf-8", "replace")
        return text + ("…" if len(value) > 120 else "")
    if isinstance(value, float) and family is Family.days:
        return f"{value:.1f}d"
    text = _as_text(value) if not isinstance(value, int | float) or isinstance(value, bool) else str(value)
    return text if len(text) <= 120 else text[:120] + "…"
