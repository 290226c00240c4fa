"""The tcp check kind: can we connect (and optionally, does the service greet us as expected)?"""

from __future__ import annotations

import asyncio
import re
import ssl
import time

from livesite.assertions import Observation, evaluate
from livesite.checks.address import resolved
from livesite.checks.context import RunContext
from livesite.checks.frame import completed, phases_of
from livesite.config.models import CheckSpec, TcpCheck, TlsSettings
from livesite.net.errors import ProbeError
from livesite.results import Failure, FailureKind, Result

_READ_LIMIT = 64 * 1024
_ESCAPES = {"\\r": "\r", "\\n": "\n", "\\t": "\t", "\\0": "\0", "\\\\": "\\"}


def _escapes(text: str) -> str:
    r"""``\r``, ``\n``, ``\t``, ``\0`` and ``\\`` as written in YAML single quotes; any other text as is (UTF-8)."""
    return re.sub(r"\\[rnt0\\]", lambda m: _ESCAPES[m.group(0)], text)


async def run(spec: CheckSpec, ctx: RunContext) -> Result:
    assert isinstance(spec, TcpCheck)
    started_at = ctx.now()
    t0 = time.perf_counter()
    progress = ctx.progress
    host, ip, port = await resolved(ctx, spec.address, 80)
    t1 = time.perf_counter()
    ssl_context = ctx.resources.ssl_context(TlsSettings()) if spec.tls else None
    try:
        reader, writer = await asyncio.open_connection(
            ip, port, ssl=ssl_context, server_hostname=host if spec.tls else None
        )
    except ssl.SSLError as e:  # an OSError too, but the connection was made: the handshake failed
        reason = e.verify_message if isinstance(e, ssl.SSLCertVerificationError) else e.reason
        raise ProbeError(FailureKind.tls, f"TLS handshake with {host}:{port} failed: {reason or e}") from None
    except OSError as e:
        raise ProbeError(FailureKind.connect, f"cannot connect to {ip}:{port}: {e.strerror or e}") from None
    progress.connect = time.perf_counter() - t1
    received = b""
    failure = None
    try:
        if spec.send is not None:
            progress.phase = "processing"
            writer.write(_escapes(spec.send).encode())
            await writer.drain()
        if spec.expect is not None:
            progress.phase = "processing"
            pattern = re.compile(spec.expect.encode())
            while not pattern.search(received) and len(received) < _READ_LIMIT:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                received += chunk
            if not pattern.search(received):
                failure = Failure(
                    kind=FailureKind.assertion,
                    message=f"expected the service to send /{spec.expect}/, received {received[:80]!r}",
                )
    finally:
        writer.close()
    duration = time.perf_counter() - t0
    seen = Observation(connected=True, body=received, total_seconds=duration, phases=phases_of(ctx))
    outcomes = evaluate([*spec.assertions, *spec.budget], seen)
    return completed(spec, ctx, started_at, duration, outcomes, failure=failure)
