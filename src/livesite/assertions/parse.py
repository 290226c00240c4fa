"""Text → :class:`Assertion`, once, when the config loads. A bad assertion is an error here, never a 0."""

from __future__ import annotations

import json
import re
import warnings

from livesite.assertions.language import (
    ORDER,
    PHASES,
    SUBJECTS,
    UNARY,
    Assertion,
    AssertionSyntaxError,
    Family,
    Op,
    Operand,
    Subject,
)

_TIME_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "us": 1e-6}
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_DAY_UNITS = {"d": 1.0, "h": 1 / 24, "w": 7.0}

_COMPARISON = ORDER | {Op.eq, Op.ne}
_OPERATOR_CHARS_RE = re.compile(r"[=<>!]+")
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
    if op in _COMPARISON and (operand_text[:1] in ("=", "<", ">") or operand_text.startswith("!=")):
        # `status === 200` or `latency << 3s`: the operator runs on into the operand, which would
        # otherwise be read as the text "= 200" and never match. A literal "=x" can be quoted.
        run_on = _OPERATOR_CHARS_RE.match(m.group(1) + operand_text)
        written = run_on.group() if run_on else op.value
        meant = "!=" if written == "<>" else op.value
        raise AssertionSyntaxError(
            f"unknown operator {written!r} in {expr!r}",
            hint=f"did you mean {meant!r}? operators: == != < <= > >= in !in contains matches exists",
        )
    if op in UNARY:
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
    if text in (
        "status",
        "body",
        "size",
        "cert.days_left",
        "answers",
        "connected",
        "redirects",
        "latency",
        "rcode",
    ):
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
            with warnings.catch_warnings():
                # "Possible nested set" and friends: Python's hints about patterns that may change
                # meaning in a future release. The pattern is valid today; a warning must not stop a load.
                warnings.simplefilter("ignore", FutureWarning)
                return Operand(text, text=pattern, regex=re.compile(pattern))
        except re.error as e:
            raise AssertionSyntaxError(f"bad regular expression {pattern!r}: {e}") from None
        except (RecursionError, OverflowError):
            raise AssertionSyntaxError(f"regular expression too deeply nested in {expr!r}") from None
    operand = _scalar(text, subject, expr)
    if op in ORDER and operand.number is None:
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
