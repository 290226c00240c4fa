"""The tls kind: handshake, chain verification and days until the earliest certificate expires."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar, Literal

from livesite.assertions import Observation
from livesite.checks.address import resolved
from livesite.checks.certs import TLS_METRICS, tls_info, tls_samples
from livesite.checks.context import RunContext
from livesite.checks.kind import IP_PROTOCOL, Kind, Sample, Seen
from livesite.checks.sockets import connect, ip_protocol, ip_protocol_of, time_left
from livesite.config.models import CheckBase, TlsSettings
from livesite.net.errors import ProbeError
from livesite.results import FailureKind, Result, SocketObservation


class TlsCheck(CheckBase):
    SUBJECTS: ClassVar[frozenset[str]] = frozenset({"latency", "connected", "cert.days_left"})

    kind: Literal["tls"]
    address: str | None = None
    server_name: str | None = None
    verify: bool = True
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


async def run(spec: CheckBase, ctx: RunContext) -> Seen:
    assert isinstance(spec, TlsCheck)
    host, ip, port = await resolved(ctx, spec.address, 443)
    settings = TlsSettings(
        verify=spec.verify,
        ca_file=spec.ca_file,
        cert_file=spec.cert_file,
        key_file=spec.key_file,
        server_name=spec.server_name,
    )
    # What blackbox exports when the handshake then fails: the address family it resolved to.
    ctx.observation = SocketObservation(ip_protocol=ip_protocol_of(ip))
    transport, _ = await connect(ctx, host, ip, port, settings, time_left_seconds=time_left(ctx, spec))
    try:
        info = tls_info(transport.get_extra_info("ssl_object"), ctx.resources)
        protocol = ip_protocol(transport)
    finally:
        # abort, not close: a graceful TLS close waits for the peer's close_notify (up to 30 s),
        # which a probe has no use for and which leaks the socket if the loop stops first.
        transport.abort()
    if info is None or info.leaf_expiry is None:
        raise ProbeError(FailureKind.tls, f"{host}:{port} sent no certificate")
    expiry = info.earliest_expiry
    view = Observation(
        connected=True,
        cert_days_left=(expiry - ctx.now()).total_seconds() / 86400 if expiry else None,
    )
    return Seen(view=view, observation=SocketObservation(ip_protocol=protocol, tls=info))


METRICS = (
    IP_PROTOCOL,
    *TLS_METRICS,
)


def samples(result: Result) -> Iterable[Sample]:
    obs = result.observation
    if isinstance(obs, SocketObservation):
        if obs.ip_protocol:
            yield "probe_ip_protocol", "", obs.ip_protocol
        yield from tls_samples(obs.tls)


KIND = Kind(spec=TlsCheck, run=run, metrics=METRICS, samples=samples)
