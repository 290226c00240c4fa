"""The assertion language's vocabulary: subjects, operators, operands, and what a check observed."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from livesite.results import Phases

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
    "rcode",
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


UNARY = {Op.exists, Op.not_exists}
ORDER = {Op.lt, Op.le, Op.gt, Op.ge}


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
    rcode: str | None = None  # a DNS answer's response code: NOERROR, NXDOMAIN, SERVFAIL, ...
    redirects: int | None = None
    _json: object = field(default=None, repr=False)
    _json_done: bool = field(default=False, repr=False)

    def json(self) -> object:
        if not self._json_done:
            self._json_done = True
            try:
                self._json = json.loads(self.body)
            except ValueError:
                self._json = MISSING
        return self._json


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: object = _Missing()
