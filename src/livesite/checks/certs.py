"""What a TLS handshake showed: protocol version and the expiries blackbox_exporter reports.

``probe_ssl_earliest_cert_expiry`` is the earliest notAfter of every certificate the peer sent, not
the leaf's: an intermediate that expires first breaks the site first. Python 3.11 has no public way
to read the chain (``SSLSocket.get_verified_chain`` is public from 3.13); the private method of
the same name has existed since 3.10, and without it we fall back to the leaf alone.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from datetime import datetime

from livesite.checks.context import Resources
from livesite.checks.kind import Metric, Sample
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


def sent_chain(ssl_object: ssl.SSLObject | None) -> list[bytes]:
    """The certificates the peer sent (DER, leaf first); the leaf alone where Python hides the chain."""
    if ssl_object is None:
        return []
    leaf = ssl_object.getpeercert(binary_form=True)
    return _chain(ssl_object, "get_unverified_chain") or ([leaf] if leaf else [])


def tls_info(ssl_object: ssl.SSLObject | None, resources: Resources) -> TlsInfo | None:
    """Version and expiries of an established TLS connection (None without one)."""
    if ssl_object is None:
        return None
    leaf = ssl_object.getpeercert(binary_form=True)
    sent = sent_chain(ssl_object)
    # Without verification there is no verified chain: OpenSSL still builds one, from whatever it
    # found, but nothing vouches for it (blackbox leaves it empty too).
    verifying = ssl_object.context.verify_mode != ssl.CERT_NONE
    verified = _chain(ssl_object, "get_verified_chain") if verifying else []

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


def expired_reason(where: str, chain: list[bytes], now: datetime) -> str:
    """Why verification said "certificate has expired": which certificate, and its notAfter.

    ``chain`` is what the peer sent, leaf first (see :func:`sent_chain`); the leaf is named if it
    lapsed, else the first lapsed issuer. With nothing lapsed in it (the chain could not be read, or
    the lapsed certificate is a trusted root the peer did not send) the reason says just that much.
    """
    from cryptography import x509

    for position, der in enumerate(chain):
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            continue
        not_after = cert.not_valid_after_utc
        if not_after < now:
            when = not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
            if position == 0:
                return f"certificate of {where} has expired (notAfter {when})"
            return f"certificate of {where} has expired: issuer {cert.subject.rfc4514_string()} (notAfter {when})"
    return f"certificate of {where} has expired"


# What every kind that speaks TLS exports of it, as blackbox_exporter names it.
TLS_METRICS = (
    Metric("probe_tls_version_info", "gauge", "The TLS version used (1 for the version label)"),
    Metric("probe_ssl_earliest_cert_expiry", "gauge", "Earliest certificate expiry in the chain, Unix time"),
    Metric(
        "probe_ssl_last_chain_expiry_timestamp_seconds",
        "gauge",
        "Earliest expiry within the verified chain, Unix time",
    ),
)


def tls_samples(tls: TlsInfo | None) -> Iterable[Sample]:
    if tls is None:
        return
    if tls.version:
        yield "probe_tls_version_info", f'version="{tls.version}"', 1
    if tls.earliest_expiry is not None:
        yield "probe_ssl_earliest_cert_expiry", "", tls.earliest_expiry.timestamp()
    if tls.chain_expiry is not None:
        yield "probe_ssl_last_chain_expiry_timestamp_seconds", "", tls.chain_expiry.timestamp()
