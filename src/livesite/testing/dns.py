"""A name server that never answers, and ways to point a resolver (or a whole process) at it.

Slow DNS is the quiet way a prober dies: every lookup blocks somewhere for the resolver's full
timeout. :class:`SilentNameServer` reproduces it for real, on 127.0.0.1: a UDP socket that receives
every query and answers none (the port is bound, so no "port unreachable" comes back either)::

    with SilentNameServer() as silent:
        resolver = silent.resolver(timeout_seconds=5)   # a livesite NameServerResolver asking it
        ctx = RunContext(zone=zone, resources=Resources(resolver=resolver))
        ...                                              # every lookup of ctx hangs until its timeout

To make the *system* resolver (getaddrinfo, as ``livesite`` uses by default) hang, a process needs a
``resolv.conf`` naming the silent server, which listens on port 53 then (root only):
:func:`with_resolv_conf` wraps a command so it runs in a private mount namespace where
``/etc/resolv.conf`` is that file, leaving the rest of the machine alone.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from livesite.net.resolve import NameServerResolver


class SilentNameServer:
    """A UDP DNS server on ``host:port`` (127.0.0.1 and a free port by default) that never answers.

    No event loop is needed: the socket is only bound, never read until :meth:`queries` counts what
    arrived. Use it with ``with`` (or ``async with``); the socket closes on exit.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._socket: socket.socket | None = None
        self._seen = 0

    def __enter__(self) -> SilentNameServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((self.host, self.port))
        sock.setblocking(False)
        self._socket = sock
        self.port = sock.getsockname()[1]
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def __aenter__(self) -> SilentNameServer:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def nameserver(self) -> str:
        """host:port, as a dns check's ``nameserver:`` takes it."""
        return f"{self.host}:{self.port}"

    def resolver(self, *, timeout_seconds: float = 5.0) -> NameServerResolver:
        """A livesite resolver that asks this server (and so never gets an answer)."""
        return NameServerResolver([self.address], timeout_seconds=timeout_seconds)

    def queries(self) -> int:
        """How many queries have arrived so far (the kernel keeps a few hundred; the rest it drops)."""
        assert self._socket is not None, "use the server in a with block"
        while True:
            try:
                self._socket.recv(4096)
            except BlockingIOError:
                return self._seen
            self._seen += 1


def resolv_conf_unavailable() -> str | None:
    """Why :func:`with_resolv_conf` cannot work here (not root, no ``unshare``), or None."""
    if os.geteuid() != 0:
        return "needs root: a private /etc/resolv.conf takes a mount namespace and port 53"
    if shutil.which("unshare") is None:
        return "needs unshare (apt-get install -y util-linux)"
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return f"unshare --mount failed: {probe.stderr.decode(errors='replace').strip()}"
    return None


def with_resolv_conf(
    argv: Sequence[str],
    nameserver: str,
    directory: Path,
    *,
    hosts: Mapping[str, str] | None = None,
    timeout_seconds: int = 30,
) -> list[str]:
    """``argv`` wrapped to run with ``/etc/resolv.conf`` naming only ``nameserver`` (an IPv4 address,
    port 53, as resolv.conf allows no other), asked once per query with ``timeout_seconds`` to wait,
    and with ``/etc/hosts`` holding only ``hosts`` (name → address; localhost always).

    The returned command execs ``argv`` in the same process (signals sent to it reach ``argv``).
    See :func:`resolv_conf_unavailable` for what it needs.
    """
    conf = directory / "resolv.conf"
    conf.write_text(f"nameserver {nameserver}\noptions timeout:{timeout_seconds} attempts:1\n")
    table = directory / "hosts"
    entries = {"localhost": "127.0.0.1", **(hosts or {})}
    table.write_text("".join(f"{address} {name}\n" for name, address in entries.items()))
    script = 'mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/hosts && shift && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, str(conf), str(table), *argv]
