"""Certificates for tests: a root CA, intermediates and leaves, each with the lifetime a case needs.

Written as PEM files, since real servers (nginx, blackbox_exporter's targets) read files::

    root = Authority.root(tmp_path / "pki")
    short = root.intermediate("short-lived intermediate", days=10)
    leaf = short.leaf("shop", days=60)       # outlives its issuer: the chain expires in 10 days
    leaf.chain                              # leaf + intermediate, what a server sends
    leaf.server_context()                   # for TargetServer(ssl_context=...)
    root.cert                               # what a client trusts (ca_file)

A negative ``days`` makes a certificate that expired that many days ago. Times are whole seconds,
as X.509 stores them, so ``not_after`` compares equal to what a client reads back.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Authority", "Issued"]

_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _lifetime(days: float) -> dt.timedelta:
    return dt.timedelta(seconds=round(days * 86400))  # whole seconds, as X.509 keeps them


def _stem(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "cert"


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, secret: bool = False) -> Path:
    path.write_bytes(data)
    path.chmod(0o600 if secret else 0o644)
    return path


@dataclass(frozen=True, slots=True)
class Issued:
    """A leaf certificate and its key as PEM files; ``chain`` is the leaf followed by its intermediates."""

    name: str
    cert: Path
    key: Path
    chain: Path
    not_after: dt.datetime

    def server_context(self) -> ssl.SSLContext:
        """A server-side SSLContext that sends the whole chain (for ``TargetServer(ssl_context=...)``)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.chain, self.key)
        return context


class Authority:
    """A CA that signs intermediates and leaves. Make the first with :meth:`root`."""

    def __init__(
        self,
        directory: Path,
        name: str,
        key: ec.EllipticCurvePrivateKey,
        cert: x509.Certificate,
        parents: Sequence[x509.Certificate] = (),
        stem: str | None = None,
    ) -> None:
        self.directory = directory
        self.name = name
        self._key = key
        self._cert = cert
        self._parents = list(parents)  # intermediates above this one, nearest first (never the root)
        stem = stem or _stem(name)
        self.cert = _write(directory / f"{stem}.pem", cert.public_bytes(serialization.Encoding.PEM))
        self.key = _write(directory / f"{stem}.key", _key_pem(key), secret=True)

    @property
    def not_after(self) -> dt.datetime:
        return self._cert.not_valid_after_utc

    @classmethod
    def root(
        cls, directory: Path, name: str = "livesite test CA", *, days: float = 3650, stem: str | None = None
    ) -> Authority:
        """A self-signed root CA valid for ``days`` days, written to ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + _lifetime(days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_CA_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(directory, name, key, cert, stem=stem)

    def intermediate(self, name: str, *, days: float = 1825) -> Authority:
        """An intermediate CA signed by this one, valid for ``days`` days (negative: expired)."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = self._builder(name, key, days).add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
        builder = builder.add_extension(_CA_USAGE, critical=True).add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        cert = builder.sign(self._key, hashes.SHA256())
        parents = [self._cert, *self._parents] if self._is_intermediate else []
        return Authority(self.directory, name, key, cert, parents)

    def leaf(
        self,
        name: str,
        *,
        days: float = 30,
        hostnames: Sequence[str] = ("localhost",),
        ips: Sequence[str] = ("127.0.0.1",),
        client: bool = False,
        stem: str | None = None,
    ) -> Issued:
        """A server (or, with ``client``, a client) certificate valid for ``days`` days.

        The subject alternative names are ``hostnames`` and ``ips``; the files are ``<stem>.pem``,
        ``<stem>.key`` and ``<stem>-chain.pem`` in the authority's directory.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            self._builder(name, key, days)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        alt: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
        alt += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        if alt:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        stem = stem or _stem(name)
        pem = cert.public_bytes(serialization.Encoding.PEM)
        issuers = [self._cert, *self._parents] if self._is_intermediate else []
        chain = pem + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in issuers)
        return Issued(
            name=name,
            cert=_write(self.directory / f"{stem}.pem", pem),
            key=_write(self.directory / f"{stem}.key", _key_pem(key), secret=True),
            chain=_write(self.directory / f"{stem}-chain.pem", chain),
            not_after=cert.not_valid_after_utc,
        )

    @property
    def _is_intermediate(self) -> bool:
        return self._cert.issuer != self._cert.subject

    def _builder(self, name: str, key: ec.EllipticCurvePrivateKey, days: float) -> x509.CertificateBuilder:
        now = _now()
        not_after = now + _lifetime(days)
        # Valid from before it expires even when it expired long ago: an expired certificate, not a
        # malformed one.
        not_before = min(now, not_after) - dt.timedelta(days=2)
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
        )
