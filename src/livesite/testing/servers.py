"""Real servers from Debian packages (nginx, dnsmasq), started as subprocesses on free 127.0.0.1 ports.

Tests talk to the real thing where it can run (blackbox_exporter and httpx do the same). Each server
is a context manager: it starts the process in its own process group, polls until it answers (with a
deadline, never a fixed sleep) and kills the whole group on exit, whatever happened::

    pki = make_pki(tmp_path / "pki", days=30)
    with Nginx(tmp_path / "nginx", tls=pki) as nginx:
        nginx.url("/")            # http://127.0.0.1:PORT/
        nginx.https_url("/mtls/") # needs pki.client_cert / pki.client_key

    with Dnsmasq(tmp_path / "dns", records={"shop.test": "127.0.0.1"}) as dns:
        dns.nameserver            # "127.0.0.1:PORT"

The binaries come from ``apt-get install -y nginx-light dnsmasq-base``; :class:`MissingBinary` says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Dnsmasq", "MissingBinary", "Nginx", "Pki", "ServerFailed", "find_binary", "free_port", "make_pki"]

START_DEADLINE_SECONDS = 10.0


class MissingBinary(RuntimeError):
    """The server's executable is not installed; ``hint`` says which package provides it."""

    def __init__(self, name: str, package: str) -> None:
        self.hint = f"apt-get install -y {package}"
        super().__init__(f"{name} is not installed ({self.hint})")


class ServerFailed(RuntimeError):
    """The server did not start (or did not answer before the deadline); the message holds its log."""


def find_binary(name: str, package: str) -> str:
    """The path of ``name`` on PATH or in /usr/sbin. Raises MissingBinary."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise MissingBinary(name, package)
    return found


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port that is free on 127.0.0.1 right now (for TCP, and for UDP too when kind is SOCK_DGRAM)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if kind != socket.SOCK_DGRAM:
            return port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


# ---------------------------------------------------------------------------------------------- PKI


@dataclass(frozen=True, slots=True)
class Pki:
    """A throwaway CA, a server certificate it signed and a client certificate it signed (PEM files)."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    not_after: dt.datetime  # of the server certificate

    def server_context(self) -> ssl.SSLContext:
        """A server-side SSLContext with the server certificate (e.g. for ``TargetServer(ssl_context=...)``)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def make_pki(
    directory: Path,
    *,
    days: int = 30,
    hostnames: Sequence[str] = ("localhost", "shop.test"),
    ips: Sequence[str] = ("127.0.0.1",),
) -> Pki:
    """Write a self-signed CA and leaf certificates that expire in ``days`` days to ``directory``.

    A negative ``days`` makes certificates that expired that many days ago.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "livesite test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    not_after = now + dt.timedelta(days=days)
    not_before = min(now, not_after) - dt.timedelta(days=2)
    sans: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]

    def leaf(cn: str, usage: x509.ObjectIdentifier, alt: list[x509.GeneralName]) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if alt:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem

    server_pem, server_key_pem = leaf(
        hostnames[0] if hostnames else "localhost", ExtendedKeyUsageOID.SERVER_AUTH, sans
    )
    client_pem, client_key_pem = leaf("livesite probe", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    files = {
        "ca.pem": ca_cert.public_bytes(serialization.Encoding.PEM),
        "ca.key": ca_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        "server.pem": server_pem,
        "server.key": server_key_pem,
        "client.pem": client_pem,
        "client.key": client_key_pem,
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
        (directory / name).chmod(0o600 if name.endswith(".key") else 0o644)
    return Pki(
        ca_cert=directory / "ca.pem",
        ca_key=directory / "ca.key",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
        not_after=not_after,
    )


# ---------------------------------------------------------------------------------------------- processes


class _Process:
    """A subprocess in its own process group, stopped (group and all) on exit."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.log = directory / "server.log"

    def _spawn(self, argv: Sequence[str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() reaches every child
            )

    def _wait_until(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        pause = 0.005
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise ServerFailed(f"{what} exited with {self.process.returncode}:\n{self._tail()}")
            if ready():
                return
            if time.monotonic() > deadline:
                raise ServerFailed(
                    f"{what} did not answer within {START_DEADLINE_SECONDS:g}s:\n{self._tail()}"
                )
            time.sleep(pause)  # a poll interval with a deadline, not synchronisation by sleeping
            pause = min(pause * 2, 0.1)

    def _tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Terminate the process group; kill it if it does not go within 5 seconds. Idempotent."""
        process, self.process = self.process, None
        if process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)  # the whole group: nothing survives the test
            try:
                process.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                continue

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _tcp_ready(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    return ready


DEFAULT_LOCATIONS = """
location = / {
    add_header X-Version "1.2.3" always;
    return 200 "hello from nginx\\n";
}
location = /json {
    default_type application/json;
    return 200 '{"ok": true, "items": [1, 2, 3], "name": "nginx"}';
}
location = /moved { return 301 /; }
location = /teapot { return 418 "short and stout\\n"; }
location /files/ { alias WWW/; }
"""


class Nginx(_Process):
    """nginx on free 127.0.0.1 ports, serving ``locations`` (a snippet of ``location`` blocks).

    With ``tls``, a second server block listens for TLS with ``tls.server_cert`` and asks for (but
    does not demand) a client certificate signed by ``tls.ca_cert``; ``/mtls/`` answers 403 without
    one and 200 with one. The word ``WWW`` in ``locations`` is replaced by a directory of files
    (``files`` maps names to contents).
    """

    def __init__(
        self,
        directory: Path,
        *,
        locations: str = DEFAULT_LOCATIONS,
        tls: Pki | None = None,
        files: Mapping[str, bytes] | None = None,
    ) -> None:
        super().__init__(directory)
        self.binary = find_binary("nginx", "nginx-light")
        self.locations = locations
        self.tls = tls
        self.files = dict(files or {"binary.bin": bytes(range(256)) * 4, "big.txt": b"x" * 200_000})
        self.port = 0
        self.https_port = 0

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def https_url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        if self.tls is None:
            raise ValueError("this nginx has no TLS server; pass tls=make_pki(...)")
        return f"https://{host}:{self.https_port}{path}"

    @property
    def https_address(self) -> str:
        return f"127.0.0.1:{self.https_port}"

    def __enter__(self) -> Nginx:
        www = self.directory / "www"
        www.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (www / name).write_bytes(data)
        for attempt in range(3):  # a free port can be taken between choosing and binding it
            self.port = free_port()
            self.https_port = free_port() if self.tls is not None else 0
            conf = self.directory / "nginx.conf"
            conf.write_text(self._config(www))
            self._spawn([self.binary, "-p", str(self.directory), "-c", str(conf), "-e", str(self.log)])
            try:
                self._wait_until(_tcp_ready(self.port), "nginx")
                if self.tls is not None:
                    self._wait_until(_tcp_ready(self.https_port), "nginx (tls)")
                return self
            except ServerFailed:
                log = self._tail()
                self.stop()
                if "Address already in use" not in log or attempt == 2:
                    raise
                self.log.unlink(missing_ok=True)
        raise AssertionError("unreachable")

    def _config(self, www: Path) -> str:
        d = self.directory
        locations = self.locations.replace("WWW", str(www))
        tls_server = ""
        if self.tls is not None:
            tls_server = f"""
    server {{
        listen 127.0.0.1:{self.https_port} ssl;
        server_name _;
        ssl_certificate {self.tls.server_cert};
        ssl_certificate_key {self.tls.server_key};
        ssl_client_certificate {self.tls.ca_cert};
        ssl_verify_client optional;
        location /mtls/ {{
            if ($ssl_client_verify != SUCCESS) {{ return 403 "client certificate required\\n"; }}
            return 200 "hello $ssl_client_s_dn\\n";
        }}
        {locations}
    }}"""
        # master_process off: one process, running as whoever started it (no 'user' switch, no
        # stray workers to reap); fine for tests, as nginx's docs say.
        return f"""
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {self.log} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    default_type text/plain;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_timeout 30s;
    server {{
        listen 127.0.0.1:{self.port};
        server_name _;
        {locations}
    }}
    {tls_server}
}}
"""


class Dnsmasq(_Process):
    """dnsmasq answering ``records`` (name → IPv4 address) on a free 127.0.0.1 port, UDP and TCP.

    Names under ``local_domain`` that are not in ``records`` get NXDOMAIN; nothing is forwarded.
    """

    def __init__(
        self,
        directory: Path,
        *,
        records: Mapping[str, str] | None = None,
        local_domain: str = "test",
    ) -> None:
        super().__init__(directory)
        self.binary = find_binary("dnsmasq", "dnsmasq-base")
        self.records = dict(records or {"shop.test": "127.0.0.1"})
        self.local_domain = local_domain
        self.port = 0

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Dnsmasq:
        for attempt in range(3):
            self.port = free_port(socket.SOCK_DGRAM)
            argv = [
                self.binary,
                "--no-daemon",
                "--conf-file=/dev/null",
                "--pid-file=",
                f"--port={self.port}",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                f"--local=/{self.local_domain}/",
                *(f"--host-record={name},{ip}" for name, ip in self.records.items()),
            ]
            if os.geteuid() == 0:
                argv.append("--user=root")  # keep file access simple; it only binds a high port
            self._spawn(argv)
            try:
                self._wait_until(self._answers, "dnsmasq")
                return self
            except ServerFailed:
                log = self._tail()
                self.stop()
                if "in use" not in log or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _answers(self) -> bool:
        import dns.exception
        import dns.message
        import dns.query

        query = dns.message.make_query(next(iter(self.records), "ready.test"), "A")
        try:
            dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.2)
        except (dns.exception.DNSException, OSError):
            return False
        return True
