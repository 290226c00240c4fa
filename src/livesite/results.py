"""The one record every pillar shares: a :class:`Result` of running one check once, in one zone.

The monitor turns Results into states, metrics and alerts; rollouts and chaos experiments judge
them. A Result says *why* as data: the :class:`Failure` kind and message, every assertion with the
value actually observed, every retry attempt. Secrets are redacted before a Result is built.
"""

from __future__ import annotations

import random
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# Result ids need to be unique, not secret: a generator seeded once from the OS is enough, and asking
# the OS for fresh entropy per Result (uuid4) cost 14 µs a probe on this machine's kernel.
_ids = random.Random()


class Status(StrEnum):
    ok = "ok"
    degraded = "degraded"  # passed, but over a budget (latency, size): worth a look, not a page
    failed = "failed"  # the site answered and an assertion did not hold
    error = "error"  # no usable answer: dns, connect, tls, timeout, protocol

    @property
    def passed(self) -> bool:
        return self in (Status.ok, Status.degraded)


class FailureKind(StrEnum):
    dns = "dns"
    connect = "connect"
    tls = "tls"
    timeout = "timeout"
    protocol = "protocol"  # the peer spoke, but not valid HTTP / DNS / ...
    http = "http"  # too many redirects, a redirect loop, a body over the limit
    assertion = "assertion"
    script = "script"  # a journey step failed for a business reason
    internal = "internal"  # a bug in livesite: the message says where

    @property
    def is_network(self) -> bool:
        """Network failures are the only ones worth retrying: a wrong answer stays wrong."""
        return self in _NETWORK


_NETWORK = frozenset({FailureKind.dns, FailureKind.connect, FailureKind.tls, FailureKind.timeout})


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Failure(_Record):
    kind: FailureKind
    message: str
    step: str | None = None


class Phases(_Record):
    """Seconds spent in each phase, as blackbox_exporter reports them."""

    resolve: float = 0.0
    connect: float = 0.0
    tls: float = 0.0
    processing: float = 0.0  # request sent → first byte of the response
    transfer: float = 0.0  # first byte → last byte

    def total(self) -> float:
        return self.resolve + self.connect + self.tls + self.processing + self.transfer


class AssertionOutcome(_Record):
    expr: str  # as the user wrote it
    observed: str | None  # what we actually saw (None: nothing to see, e.g. a missing header)
    passed: bool
    budget: bool = False  # a budget that does not hold degrades the result instead of failing it

    def describe(self) -> str:
        seen = "nothing" if self.observed is None else self.observed
        return f"expected {self.expr}, observed {seen}"


class Attempt(_Record):
    """One try of a retried check. The last attempt is the Result itself."""

    number: int
    started_at: datetime
    duration_seconds: float
    failure: Failure | None = None


class StepResult(_Record):
    name: str
    status: Status
    duration_seconds: float
    failure: Failure | None = None
    assertions: list[AssertionOutcome] = Field(default_factory=list)
    phases: Phases | None = None
    status_code: int | None = None
    url: str | None = None


class Artifact(_Record):
    name: str
    media_type: str
    path: str | None = None
    text: str | None = None


class Result(_Record):
    id: str = Field(default_factory=lambda: f"{_ids.getrandbits(128):032x}")
    check: str
    kind: str
    zone: str
    user: str = ""
    cohort: str = ""
    revision: str = ""
    started_at: datetime
    duration_seconds: float
    status: Status
    failure: Failure | None = None
    phases: Phases = Field(default_factory=Phases)
    assertions: list[AssertionOutcome] = Field(default_factory=list)
    steps: list[StepResult] = Field(default_factory=list)
    attempts: list[Attempt] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    artifacts: list[Artifact] = Field(default_factory=list)
    # What the probe saw, for metrics and the history page.
    target: str = ""
    status_code: int | None = None
    response_bytes: int | None = None
    redirects: list[str] = Field(default_factory=list)
    cert_not_after: datetime | None = None

    @property
    def passed(self) -> bool:
        return self.status.passed

    def reason(self) -> str:
        """One line a human can act on."""
        if self.failure is not None:
            where = f" at step {self.failure.step!r}" if self.failure.step else ""
            return f"{self.failure.kind}{where}: {self.failure.message}"
        over = [a for a in self.assertions if not a.passed]
        if over:
            return "; ".join(a.describe() for a in over)
        return self.status.value


def status_for(failure: Failure) -> Status:
    """No usable answer is an error; an answer that is wrong is a failure."""
    return Status.error if failure.kind.is_network or failure.kind in _NO_ANSWER else Status.failed


_NO_ANSWER = frozenset({FailureKind.protocol, FailureKind.internal})


def decide(assertions: list[AssertionOutcome]) -> tuple[Status, Failure | None]:
    """Status from assertion outcomes: a hard failure fails, a broken budget degrades."""
    hard = [a for a in assertions if not a.passed and not a.budget]
    if hard:
        return Status.failed, Failure(
            kind=FailureKind.assertion, message="; ".join(a.describe() for a in hard)
        )
    if any(not a.passed for a in assertions):
        return Status.degraded, None
    return Status.ok, None
