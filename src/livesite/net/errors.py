"""Why a network exchange failed, as a value the check kinds turn into a Failure."""

from __future__ import annotations

from livesite.results import FailureKind

# OpenSSL's X509_V_ERR_CERT_HAS_EXPIRED, as ``ssl.SSLCertVerificationError.verify_code`` gives it:
# the one verification failure whose reason livesite completes (with the certificate's notAfter).
CERT_HAS_EXPIRED = 10


class ProbeError(Exception):
    """A probe could not get a usable answer. ``kind`` says at which layer.

    ``verify_code`` is OpenSSL's code when a certificate failed verification (``tls`` only), so a
    caller can tell an expired certificate from an untrusted one without reading the message.
    """

    def __init__(self, kind: FailureKind, message: str, *, verify_code: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.verify_code = verify_code
