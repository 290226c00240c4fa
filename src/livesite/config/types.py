"""Small value types shared by the config models: durations and parsed assertions."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, PlainValidator, WithJsonSchema

from livesite.assertions import Assertion, AssertionSyntaxError, parse

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: object) -> float:
    """``"500ms"``, ``"30s"``, ``"2m"``, ``"1h"`` or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration cannot be true/false; write e.g. 30s")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION_RE.match(value)
        if m is None:
            raise ValueError(f"{value!r} is not a duration; write e.g. 500ms, 30s, 2m or 1h")
        seconds = float(m.group(1)) * _SCALE[m.group(2)]
    else:
        raise ValueError(f"{value!r} is not a duration; write e.g. 500ms, 30s, 2m or 1h")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Seconds = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema({"type": ["string", "number"], "examples": ["30s", "500ms", 2.5]}),
]


def _assertion(value: object, *, budget: bool) -> Assertion:
    if isinstance(value, Assertion):
        return value
    if isinstance(value, bool | int | float):
        raise ValueError(f"an assertion is text such as 'status == 200', not {value!r}")
    if not isinstance(value, str):
        raise ValueError("an assertion is text such as 'status == 200'")
    try:
        return parse(value, budget=budget)
    except AssertionSyntaxError as e:
        raise ValueError(e.message + (f" (hint: {e.hint})" if e.hint else "")) from None


AssertionRule = Annotated[
    Assertion,
    PlainValidator(lambda v: _assertion(v, budget=False)),
    PlainSerializer(lambda a: a.expr, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["status == 200", "latency < 300ms"]}),
]
BudgetRule = Annotated[
    Assertion,
    PlainValidator(lambda v: _assertion(v, budget=True)),
    PlainSerializer(lambda a: a.expr, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["latency < 300ms"]}),
]
