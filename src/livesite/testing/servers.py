"""Real servers from Debian packages (nginx, dnsmasq, blackbox_exporter), started as subprocesses on free 127.0.0.1 ports.

Tests talk to the real thing where it can run (blackbox_exporter and httpx do the same). Each server
is a context manager: it starts the process in its own process group, polls until it answers (with a
deadline, never a fixed sleep) and kills the whole group on exit, whatever happened::

    pki = make_pki(tmp_path / "pki", days=30)
    with Nginx(tmp_path / "nginx", tls=pki) as nginx:
        nginx.url("/")            # http://127.0.0.1:PORT/
        nginx.https_url("/mtls/") # needs pki.client_cert / pki.client_key

    with Dnsmasq(tmp_path / "dns", records={"shop.test": "127.0.0.1"}) as dns:
        dns.nameserver            # "127.0.0.1:PORT"

    with BlackboxExporter(tmp_path / "blackbox") as blackbox:    # the reference prober
        samples = await blackbox.probe({"prober": "http", "timeout": "2s"}, nginx.url("/"))
        samples["probe_success"]  # 1.0

The binaries come from ``apt-get install -y nginx-light dnsmasq-base prometheus-blackbox-exporter``;
:class:`MissingBinary` says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
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

from livesite.testing.pki import Authority

__all__ = [
    "BlackboxExporter",
    "Dnsmasq",
    "MissingBinary",
    "Nginx",
    "Pki",
    "ServerFailed",
    "find_binary",
    "free_port",
    "make_pki",
    "parse_exposition",
]

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

    A negative ``days`` makes certificates that expired that many days ago. For intermediates and
    chains that expire early, use :class:`livesite.testing.pki.Authority` directly.
    """
    root = Authority.root(directory, "livesite test CA", stem="ca")
    server = root.leaf(
        hostnames[0] if hostnames else "localhost", days=days, hostnames=hostnames, ips=ips, stem="server"
    )
    client = root.leaf("livesite probe", days=days, hostnames=(), ips=(), client=True, stem="client")
    return Pki(
        ca_cert=root.cert,
        ca_key=root.key,
        server_cert=server.cert,
        server_key=server.key,
        client_cert=client.cert,
        client_key=client.key,
        not_after=server.not_after,
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


class BlackboxExporter(_Process):
    """Prometheus blackbox_exporter on a free 127.0.0.1 port: the reference livesite's probes are held to.

    Modules are given per probe (a mapping, as under ``modules:`` in blackbox.yml); a module not
    seen before is written to the config and loaded with ``POST /-/reload``, so each test states
    the module it compares against next to its own check.
    """

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.binary = find_binary("prometheus-blackbox-exporter", "prometheus-blackbox-exporter")
        self.config = directory / "blackbox.yml"
        # blackbox refuses a config without modules; this one is never used.
        self.modules: dict[str, Mapping[str, object]] = {"tcp_connect": {"prober": "tcp"}}
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def version(self) -> str:
        """The first line of ``--version``, e.g. "blackbox_exporter, version 0.23.0 (...)"."""
        out = subprocess.run(
            [self.binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
        return (out.stdout or out.stderr).splitlines()[0].strip()

    def __enter__(self) -> BlackboxExporter:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write_config()
        for attempt in range(3):
            self.port = free_port()
            self._spawn(
                [
                    self.binary,
                    f"--config.file={self.config}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ]
            )
            try:
                self._wait_until(_tcp_ready(self.port), "blackbox_exporter")
                return self
            except ServerFailed:
                log = self._tail()
                self.stop()
                if "address already in use" not in log or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def probe(self, module: Mapping[str, object], target: str) -> dict[str, float]:
        """Probe ``target`` with ``module``; the exposition parsed by :func:`parse_exposition`.

        blackbox answers 200 even when the probe failed: read ``probe_success`` in the result.

        Raises:
            ServerFailed: the module was rejected (the message holds blackbox's reason).
        """
        import httpx

        name = "m_" + hashlib.blake2b(json.dumps(module, sort_keys=True).encode(), digest_size=6).hexdigest()
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as client:
            if name not in self.modules:
                self.modules[name] = module
                self._write_config()
                reload = await client.post("/-/reload")
                if reload.status_code != 200:
                    del self.modules[name]
                    self._write_config()
                    raise ServerFailed(f"blackbox_exporter rejected module {module!r}: {reload.text}")
            answer = await client.get("/probe", params={"module": name, "target": target})
            if answer.status_code != 200:
                raise ServerFailed(f"blackbox_exporter answered {answer.status_code}: {answer.text}")
            return parse_exposition(answer.text)

    def _write_config(self) -> None:
        import yaml

        self.config.write_text(yaml.safe_dump({"modules": self.modules}, sort_keys=True))


def parse_exposition(text: str, drop_labels: frozenset[str] = frozenset()) -> dict[str, float]:
    """Prometheus text exposition → {'name{label="v",...}': value}, labels sorted, ``drop_labels`` left out.

    Only what probes export is handled: one sample per line, no timestamps, no escaped quotes
    or commas inside label values.
    """
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name, brace, labels = series.partition("{")
        pairs = sorted(
            p for p in labels.rstrip("}").split(",") if p and p.split("=", 1)[0] not in drop_labels
        )
        out[f"{name}{{{','.join(pairs)}}}" if brace and pairs else name] = float(value)
    return out
