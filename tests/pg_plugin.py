"""A real PostgreSQL 15 for the tests: ``postgres_url`` (one server per session) and ``fresh_postgres_url``.

Load with ``pytest_plugins = ["pg_plugin"]`` (``tests`` on sys.path) or ``-p pg_plugin``.
The server runs from a temporary folder on 127.0.0.1 and a free port, with ``fsync=off`` because
nothing here tests the server's own durability. PostgreSQL refuses to run as root, so as root the
binaries run as the ``postgres`` user. Missing binaries skip the tests with an install hint, or
fail them when the ``CI`` environment variable is set, so CI cannot pass without PostgreSQL.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("LIVESITE_PG_BIN", "/usr/lib/postgresql/15/bin"))
_INSTALL_HINT = "install it with: apt-get install postgresql-15 (or set LIVESITE_PG_BIN to its bin folder)"


class _Server:
    def __init__(self, root: Path, port: int, as_user: list[str]) -> None:
        self.root = root
        self.port = port
        self._as_user = as_user

    @property
    def data(self) -> Path:
        return self.root / "data"

    def run(self, tool: str, *args: str) -> None:
        command = [*self._as_user, str(PG_BIN / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}{tail}")

    def create_database(self, name: str) -> str:
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message} — CI must have PostgreSQL installed", pytrace=False)
    pytest.skip(f"{message}; {_INSTALL_HINT}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[_Server]:
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        _missing(f"PostgreSQL binaries not found in {PG_BIN}")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="livesite-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            _missing("PostgreSQL refuses to run as root and there is no 'postgres' user to run it as")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    server = _Server(root, _free_port(), as_user)
    started = False
    try:
        server.run(
            "initdb", "-D", str(server.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"
        )
        options = f"-k {root} -h 127.0.0.1 -p {server.port} -c fsync=off -c full_page_writes=off"
        server.run(
            "pg_ctl", "-D", str(server.data), "-l", str(root / "server.log"), "-o", options, "-w", "start"
        )
        started = True
        yield server
    finally:
        if started:
            server.run("pg_ctl", "-D", str(server.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(_postgres_server: _Server) -> str:
    """URL of a database on a PostgreSQL 15 started for this session; tests share it."""
    return _postgres_server.create_database("livesite")


@pytest.fixture
def fresh_postgres_url(_postgres_server: _Server) -> str:
    """URL of a new, empty database on the session's server, for tests that need a clean slate."""
    return _postgres_server.create_database(f"t_{uuid.uuid4().hex[:12]}")
