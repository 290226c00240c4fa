"""The one record every pillar shares: a :class:`Result` of running one check once, in one zone.

The monitor turns Results into states, metrics and alerts; rollouts and chaos experiments judge
them. A Result says *why* as data: the :class:`Failure` kind and message, every assertion with the
value actually observed, every retry attempt. Secrets are redacted before a Result is built.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from livesite.ids import new_id


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
    users = "users"  # no fake user of the check's cohort could be leased: the site was not asked
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


class TlsInfo(_Record):
    """What a TLS handshake showed, as blackbox_exporter reports it."""

    version: str = ""  # "TLS 1.3", as in probe_tls_version_info
    # The earliest notAfter of every certificate the peer sent (probe_ssl_earliest_cert_expiry): an
    # intermediate that expires before the leaf breaks the site just the same.
    earliest_expiry: datetime | None = None
    # The earliest notAfter within the verified chain (probe_ssl_last_chain_expiry_timestamp_seconds).
    chain_expiry: datetime | None = None
    leaf_expiry: datetime | None = None


class HttpObservation(_Record):
    """What an http request saw besides the assertions' view. Status 0: no answer (as blackbox)."""

    kind: Literal["http"] = "http"
    status_code: int = 0
    content_length: int = -1  # the Content-Length header; -1 when absent (chunked, close-delimited)
    body_bytes: int = 0  # bytes of body read
    redirects: list[str] = Field(default_factory=list)
    http_version: str = ""  # "1.1"
    ip_protocol: int = 0  # 4 or 6; 0 before the address was known
    tls: TlsInfo | None = None


class DnsObservation(_Record):
    kind: Literal["dns"] = "dns"
    rcode: str = ""
    answers: list[str] = Field(default_factory=list)
    answer_rrs: int = 0
    authority_rrs: int = 0
    additional_rrs: int = 0
    query_succeeded: bool = False
    lookup_seconds: float = 0.0  # resolving the name server's own name, not the query
    ip_protocol: int = 0  # of the name server's address: 4 or 6


class SocketObservation(_Record):
    """What a tcp or tls check saw of its connection."""

    kind: Literal["socket"] = "socket"
    ip_protocol: int = 0
    tls: TlsInfo | None = None
    received_bytes: int = 0


class BrokenLink(_Record):
    """A link that does not lead where it says: the page it was found on, the link, and why."""

    page: str  # "" for a start URL
    link: str
    reason: str


class LinksObservation(_Record):
    """What a links check's crawl saw. ``broken`` keeps the check's first ``keep_broken``; ``broken_total`` counts all."""

    kind: Literal["links"] = "links"
    pages: int = 0
    links_checked: int = 0
    broken_total: int = 0
    broken: list[BrokenLink] = Field(default_factory=list)
    skipped: int = 0  # links not judged (robots.txt, max_pages, the crawl's deadline)
    stopped: str = ""  # why the crawl ended early; "" when it ran to the end


class ZoneCache(_Record):
    """One zone's edge in a cache check: what it served before the write, and when it caught up."""

    zone: str
    before: str = ""  # X-Cache of the first read: HIT, MISS, or "" when the edge does not say
    age_seconds: float | None = None  # the Age header of the first read
    etag: str = ""
    consistent_after_seconds: float | None = None  # from the write; None: still stale at the budget
    stale_reads: int = 0  # reads that served the old value after the write


class CacheObservation(_Record):
    kind: Literal["cache"] = "cache"
    zones: list[ZoneCache] = Field(default_factory=list)
    restored: bool | None = None  # None: no restore configured (or nothing to restore)


class TokenObservation(_Record):
    kind: Literal["token"] = "token"
    lifetime_seconds: float | None = None  # as learnt at login
    lifetime_source: str = ""  # jwt | expires_in | ttl
    # Zones that still accepted the token when they should have refused it.
    accepted_after_expiry: list[str] = Field(default_factory=list)
    accepted_after_logout: list[str] = Field(default_factory=list)


class ConsistencyObservation(_Record):
    kind: Literal["consistency"] = "consistency"
    compared: list[str] = Field(default_factory=list)  # status, revision, body, json.<path>
    values: dict[str, str] = Field(default_factory=dict)  # zone → what it served (cut, redacted)
    differing: list[str] = Field(default_factory=list)  # zones outside the majority, or all without one
    majority: str | None = None  # the value most zones served, when more than half agree


KindObservation = Annotated[
    HttpObservation
    | DnsObservation
    | SocketObservation
    | LinksObservation
    | CacheObservation
    | TokenObservation
    | ConsistencyObservation,
    Field(discriminator="kind"),
]


class Artifact(_Record):
    """Something saved while running a check (a screenshot, a console log), kept by reference."""

    name: str
    media_type: str
    uri: str  # file:///..., s3://..., or data: for a few bytes


class StepResult(_Record):
    """One step of a journey (a single-request check is a Result with no steps)."""

    name: str
    status: Status
    started_offset_seconds: float = 0.0  # from the start of the Result
    duration_seconds: float
    failure: Failure | None = None
    assertions: list[AssertionOutcome] = Field(default_factory=list)
    phases: Phases | None = None
    target: str = ""
    revision: str = ""
    observation: KindObservation | None = None
    artifacts: list[Artifact] = Field(default_factory=list)
    partner: str = ""  # the third party this step speaks to (livesite.incidents)


class Result(_Record):
    id: str = Field(default_factory=new_id)
    check: str
    kind: str
    zone: str
    user: str = ""
    cohort: str = ""
    # The revision of the site that answered. When steps saw different revisions (a deploy, or a
    # router that moved the user mid-journey), ``revision`` is "mixed" and ``revisions`` lists them,
    # so a judge comparing revisions leaves the Result out instead of crediting either side.
    revision: str = ""
    revisions: list[str] = Field(default_factory=list)
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
    target: str = ""  # what was probed (URL, host:port, query), secrets masked
    observation: KindObservation | None = None

    @property
    def passed(self) -> bool:
        return self.status.passed

    @property
    def http(self) -> HttpObservation | None:
        return self.observation if isinstance(self.observation, HttpObservation) else None

    def reason(self) -> str:
        """One line a human can act on."""
        if self.failure is not None:
            where = f" at step {self.failure.step!r}" if self.failure.step else ""
            return f"{self.failure.kind}{where}: {self.failure.message}"
        over = [a for a in self.assertions if not a.passed]
        if over:
            return "; ".join(a.describe() for a in over)
        return self.status.value


MIXED = "mixed"


def revision_of(steps: list[str]) -> tuple[str, list[str]]:
    """(revision, revisions) of a Result whose steps saw ``steps`` (empty strings: not told)."""
    seen = list(dict.fromkeys(r for r in steps if r))
    if len(seen) > 1:
        return MIXED, seen
    return (seen[0] if seen else ""), []


def status_for(failure: Failure) -> Status:
    """No usable answer is an error; an answer that is wrong is a failure."""
    return Status.error if failure.kind.is_network or failure.kind in _NO_ANSWER else Status.failed


_NO_ANSWER = frozenset({FailureKind.protocol, FailureKind.internal, FailureKind.users})


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
