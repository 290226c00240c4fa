"""The tls check kind: handshake, chain verification and days until the certificate expires."""

from __future__ import annotations

import asyncio
import ssl
import time

from livesite.assertions import Observation, evaluate
from livesite.checks.address import resolved
from livesite.checks.context import RunContext
from livesite.checks.frame import completed, phases_of
from livesite.config.models import CheckSpec, TlsCheck, TlsSettings
from livesite.net.errors import ProbeError
from livesite.results import FailureKind, Result


async def run(spec: CheckSpec, ctx: RunContext) -> Result:
    assert isinstance(spec, TlsCheck)
    started_at = ctx.now()
    t0 = time.perf_counter()
    progress = ctx.progress
    host, ip, port = await resolved(ctx, spec.address, 443)
    t1 = time.perf_counter()
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.create_connection(asyncio.Protocol, ip, port)
    except OSError as e:
        raise ProbeError(FailureKind.connect, f"cannot connect to {ip}:{port}: {e.strerror or e}") from None
    t2 = time.perf_counter()
    progress.connect = t2 - t1
    progress.phase = "tls"
    context = ctx.resources.ssl_context(TlsSettings(verify=spec.verify, ca_file=spec.ca_file))
    try:
        tls_transport = await loop.start_tls(
            transport, protocol, context, server_hostname=spec.server_name or host
        )
    except ssl.SSLCertVerificationError as e:
        transport.abort()
        raise ProbeError(
            FailureKind.tls, f"certificate of {host}:{port} not trusted: {e.verify_message}"
        ) from None
    except (ssl.SSLError, ConnectionError) as e:
        transport.abort()
        raise ProbeError(FailureKind.tls, f"TLS handshake with {host}:{port} failed: {e}") from None
    except BaseException:  # cancelled by the check's deadline: do not leak the socket
        transport.abort()
        raise
    progress.tls = time.perf_counter() - t2
    try:
        ssl_object = tls_transport.get_extra_info("ssl_object") if tls_transport else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        # abort, not close: a graceful TLS close waits for the peer's close_notify (up to 30 s),
        # which a probe has no use for and which leaks the socket if the loop stops first.
        (tls_transport or transport).abort()
    if der is None:
        raise ProbeError(FailureKind.tls, f"{host}:{port} sent no certificate")
    not_after = ctx.resources.cert_not_after(der)
    days_left = (not_after - ctx.now()).total_seconds() / 86400 if not_after else None
    duration = time.perf_counter() - t0
    seen = Observation(
        connected=True, cert_days_left=days_left, total_seconds=duration, phases=phases_of(ctx)
    )
    outcomes = evaluate([*spec.assertions, *spec.budget], seen)
    return completed(spec, ctx, started_at, duration, outcomes, cert_not_after=not_after)
