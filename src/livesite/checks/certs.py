"""What a TLS handshake showed: protocol version and the expiries blackbox_exporter reports.

``probe_ssl_earliest_cert_expiry`` is the earliest notAfter of every certificate the peer sent, not
the leaf's: an intermediate that expires first breaks the site first. Python 3.11 has no public way
to read the chain (``SSLSocket.get_verified_chain`` is public from 3.13); the private method of
the same name has existed since 3.10, and without it we fall back to the leaf alone.
"""

from __future__ import annotations

import ssl
from datetime import datetime

from livesite.checks.context import Resources
from livesite.results import TlsInfo

_DER = getattr(ssl, "_ssl", None) and getattr(ssl._ssl, "ENCODING_DER", 2)  # type: ignore[attr-defined]


def _chain(ssl_object: object, method: str) -> list[bytes]:
    inner = getattr(ssl_object, "_sslobj", ssl_object)
    get = getattr(inner, method, None)
    if get is None:
        return []
    try:
        certs = get() or []
        return [c.public_bytes(_DER) for c in certs]
    except (ssl.SSLError, ValueError, AttributeError):
        return []


def tls_info(ssl_object: ssl.SSLObject | None, resources: Resources) -> TlsInfo | None:
    """Version and expiries of an established TLS connection (None without one)."""
    if ssl_object is None:
        return None
    leaf = ssl_object.getpeercert(binary_form=True)
    sent = _chain(ssl_object, "get_unverified_chain") or ([leaf] if leaf else [])
    verified = _chain(ssl_object, "get_verified_chain")

    def earliest(ders: list[bytes]) -> datetime | None:
        dates = [d for d in (resources.cert_not_after(der) for der in ders) if d is not None]
        return min(dates) if dates else None

    version = ssl_object.version() or ""
    return TlsInfo(
        version=version.replace("TLSv", "TLS "),
        earliest_expiry=earliest(sent),
        chain_expiry=earliest(verified),
        leaf_expiry=resources.cert_not_after(leaf) if leaf else None,
    )
