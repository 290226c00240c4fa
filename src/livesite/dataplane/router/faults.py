"""The chaos hook: answer with a status, abort or delay a share of the requests that match.

Every fault has a TTL and expires by itself, so an experiment that dies never leaves one behind.
The share is applied by a credit counter rather than by chance: with ``share`` 0.25, exactly one
matching request in four is hit, evenly spread, and a run can be reproduced.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_TTL_SECONDS = 24 * 3600


class FaultMatch(BaseModel):
    """All given conditions must hold; a header value ``*`` means "present, any value"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path_prefix: str | None = Field(default=None, max_length=4096)
    header: dict[str, str] | None = Field(default=None, max_length=8)
    backend: str | None = None


class FaultSpec(BaseModel):
    """What a POST /-/faults asks for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    action: Literal["status", "abort", "delay"]
    status: int = Field(default=503, ge=200, le=599)
    delay_ms: int = Field(default=0, ge=0, le=600_000)
    share: float = Field(default=1.0, ge=0.0, le=1.0)
    match: FaultMatch = FaultMatch()
    ttl_seconds: float = Field(gt=0, le=MAX_TTL_SECONDS)

    @model_validator(mode="after")
    def _delay_has_a_length(self) -> FaultSpec:
        if self.action == "delay" and self.delay_ms <= 0:
            raise ValueError('a "delay" fault needs delay_ms above 0')
        return self


class FaultView(BaseModel):
    id: str
    action: Literal["status", "abort", "delay"]
    status: int
    delay_ms: int
    share: float
    match: FaultMatch
    ttl_seconds: float
    expires_at: float  # unix time
    applied: int  # requests hit so far
    matched: int  # requests that matched, hit or not


class Fault:
    __slots__ = ("applied", "credit", "expires_at", "expires_monotonic", "header", "matched", "spec")

    def __init__(self, spec: FaultSpec, expires_monotonic: float, expires_at: float) -> None:
        self.spec = spec
        self.expires_monotonic = expires_monotonic
        self.expires_at = expires_at
        self.credit = 0.0
        self.applied = 0
        self.matched = 0
        self.header = {k.lower(): v for k, v in (spec.match.header or {}).items()}

    def matches(self, path: str, headers: Mapping[str, str], backend: str) -> bool:
        m = self.spec.match
        if m.backend is not None and m.backend != backend:
            return False
        if m.path_prefix is not None and not path.startswith(m.path_prefix):
            return False
        for name, wanted in self.header.items():
            got = headers.get(name)
            if got is None or (wanted != "*" and got != wanted):
                return False
        return True

    def take(self) -> bool:
        """Whether this matching request is one of the share that is hit."""
        self.matched += 1
        self.credit += self.spec.share
        if self.credit >= 1.0 - 1e-9:
            self.credit -= 1.0
            self.applied += 1
            return True
        return False

    def view(self) -> FaultView:
        s = self.spec
        assert s.id is not None
        return FaultView(
            id=s.id,
            action=s.action,
            status=s.status,
            delay_ms=s.delay_ms,
            share=s.share,
            match=s.match,
            ttl_seconds=s.ttl_seconds,
            expires_at=round(self.expires_at, 3),
            applied=self.applied,
            matched=self.matched,
        )


class Faults:
    """The faults in force. ``monotonic`` and ``wall`` are the clock (injected so tests move time)."""

    def __init__(self, monotonic: Callable[[], float], wall: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._wall = wall
        self._faults: dict[str, Fault] = {}
        self._ids = itertools.count(1)

    def __bool__(self) -> bool:
        return bool(self._faults)

    def add(self, spec: FaultSpec) -> Fault:
        """Adds (or replaces, same id) a fault; its TTL starts now."""
        if spec.id is None:
            spec = spec.model_copy(update={"id": f"fault-{next(self._ids)}"})
        assert spec.id is not None
        fault = Fault(spec, self._monotonic() + spec.ttl_seconds, self._wall() + spec.ttl_seconds)
        self._faults[spec.id] = fault
        return fault

    def remove(self, fault_id: str) -> bool:
        self.expire()
        return self._faults.pop(fault_id, None) is not None

    def clear(self) -> int:
        count = len(self._faults)
        self._faults.clear()
        return count

    def expire(self) -> bool:
        """Drops the faults past their TTL; True when any went."""
        now = self._monotonic()
        gone = [k for k, f in self._faults.items() if f.expires_monotonic <= now]
        for k in gone:
            del self._faults[k]
        return bool(gone)

    def views(self) -> list[FaultView]:
        self.expire()
        return [f.view() for f in self._faults.values()]

    def pick(self, path: str, headers: Mapping[str, str], backend: str) -> Fault | None:
        """The first fault in force that matches this request and whose share hits it."""
        self.expire()
        for fault in self._faults.values():
            if fault.matches(path, headers, backend) and fault.take():
                return fault
        return None
