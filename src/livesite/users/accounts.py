"""Provisioned users' credentials: one JSON file, mode 0600, never the store.

Why a file and not the store: the store is read by the web app, the CLI and any PostgreSQL client with
access to the database, and it is backed up and shared; a password there would leak with every
Result. The store holds the leases (who uses a user now); this file holds what a user logs in with,
readable by its owner only, like an SSH key. Writes are atomic (a temporary file renamed over the
old one) and serialised across processes by an exclusive ``flock`` on ``<file>.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from livesite.errors import UsageError

_MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Account:
    """A provisioned fake user as registered: every field but ``id``, ``cohort`` and ``created_at``
    is a secret or close to one and is never printed."""

    id: str
    cohort: str
    username: str
    password: str
    totp_secret: str = ""
    created_at: float = 0.0

    def __repr__(self) -> str:
        return f"Account(id={self.id!r}, cohort={self.cohort!r})"


def read_accounts(path: Path) -> dict[str, Account]:
    """The accounts in ``path`` by user id ({} when there is no file yet).

    Raises:
        UsageError: the file is not livesite's accounts file, or others can read it.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return {}
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"the users' accounts file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise UsageError(
            f"the users' accounts file {path} can be read by others (mode {stat.S_IMODE(info.st_mode):o})",
            hint=f"chmod 600 {path}; its passwords may have leaked: run livesite users cleanup, then provision",
        )
    if info.st_size > _MAX_BYTES:
        raise UsageError(f"the users' accounts file {path} is larger than {_MAX_BYTES // (1024 * 1024)} MiB")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {row["id"]: Account(**row) for row in data["accounts"]}
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(
            f"cannot read the users' accounts file {path}: {type(e).__name__}",
            hint="it is written by livesite users provision; move it aside to start again",
        ) from None


def write_accounts(path: Path, accounts: dict[str, Account]) -> None:
    """Replace the file atomically; created 0600 before anything is written into it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "accounts": [asdict(a) for a in accounts.values()]}, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the accounts file's lock (one writer at a time, across processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
