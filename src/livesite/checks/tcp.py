"""The tcp kind: can we connect (over TLS if asked), and does the service greet us as expected?"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from livesite.assertions import Observation
from livesite.checks.address import resolved
from livesite.checks.certs import TLS_METRICS, tls_info, tls_samples
from livesite.checks.context import RunContext
from livesite.checks.http import failed_due_to_regex
from livesite.checks.kind import FAILED_DUE_TO_REGEX, IP_PROTOCOL, Kind, Sample, Seen
from livesite.checks.sockets import READ_LIMIT, connect, ip_protocol, ip_protocol_of, time_left
from livesite.config.models import CheckBase, TlsSettings
from livesite.results import Failure, FailureKind, Result, SocketObservation

_EXPECTED = "expected the service to send"  # how an ``expect`` that did not match begins its message
_ESCAPES = {"\\r": "\r", "\\n": "\n", "\\t": "\t", "\\0": "\0", "\\\\": "\\"}


def _escapes(text: str) -> str:
    r"""``\r``, ``\n``, ``\t``, ``\0`` and ``\\`` as written in YAML single quotes; any other text as is (UTF-8)."""
    return re.sub(r"\\[rnt0\\]", lambda m: _ESCAPES[m.group(0)], text)


class TcpCheck(CheckBase):
    SUBJECTS: ClassVar[frozenset[str]] = frozenset({"latency", "connected", "body", "size", "cert.days_left"})

    kind: Literal["tcp"]
    address: str | None = Field(None, description="host:port; default: the zone's base_url host and port")
    send: str | None = None
    expect: str | None = Field(None, description="a regular expression the first bytes read must match")
    tls: bool | TlsSettings = Field(False, description="true, or TLS settings as for http checks")

    @field_validator("expect")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v.encode())
            except re.error as e:
                raise ValueError(f"expect {v!r} is not a regular expression: {e}") from None
        return v

    @property
    def tls_settings(self) -> TlsSettings | None:
        if self.tls is True:
            return TlsSettings()
        return self.tls or None

    def secrets(self) -> list[str]:
        return [v for v in self._substituted if self.send and v in self.send]


async def run(spec: CheckBase, ctx: RunContext) -> Seen:
    assert isinstance(spec, TcpCheck)
    host, ip, port = await resolved(ctx, spec.address, 80)
    # What blackbox exports when the connection then fails: the address family it resolved to.
    ctx.observation = SocketObservation(ip_protocol=ip_protocol_of(ip))
    tls = spec.tls_settings
    transport, stream = await connect(ctx, host, ip, port, tls, time_left_seconds=time_left(ctx, spec))
    observation = SocketObservation(
        ip_protocol=ip_protocol(transport),
        tls=tls_info(transport.get_extra_info("ssl_object"), ctx.resources) if tls else None,
    )
    failure = None
    try:
        if spec.send is not None:
            ctx.progress.phase = "processing"
            transport.write(_escapes(spec.send).encode())
        if spec.expect is not None:
            ctx.progress.phase = "processing"
            pattern = re.compile(spec.expect.encode())
            while not pattern.search(stream.received) and not stream.closed:
                if len(stream.received) >= READ_LIMIT:
                    break
                await stream.wait()
            if not pattern.search(stream.received):
                failure = Failure(
                    kind=FailureKind.assertion,
                    # Not cut here: the frame redacts secrets first, then cuts the message.
                    message=f"{_EXPECTED} /{spec.expect}/, received {bytes(stream.received[:1024])!r}",
                )
    finally:
        transport.abort()
    received = bytes(stream.received)
    expiry = observation.tls.earliest_expiry if observation.tls else None
    view = Observation(
        connected=True,
        body=received,
        size_bytes=len(received),
        cert_days_left=(expiry - ctx.now()).total_seconds() / 86400 if expiry else None,
    )
    observation = observation.model_copy(update={"received_bytes": len(received)})
    return Seen(view=view, observation=observation, failure=failure)


METRICS = (
    IP_PROTOCOL,
    FAILED_DUE_TO_REGEX,
    *TLS_METRICS,
)


def samples(result: Result) -> Iterable[Sample]:
    obs = result.observation
    expect = result.failure is not None and result.failure.message.startswith(_EXPECTED)
    yield "probe_failed_due_to_regex", "", int(expect or failed_due_to_regex(result))
    if isinstance(obs, SocketObservation):
        if obs.ip_protocol:
            yield "probe_ip_protocol", "", obs.ip_protocol
        yield from tls_samples(obs.tls)


KIND = Kind(spec=TcpCheck, run=run, metrics=METRICS, samples=samples)
