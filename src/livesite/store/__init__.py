"""Where Results, StateChanges and their per-minute aggregates live.

The contract is in :mod:`livesite.store.base`, split by consumer (the monitor writes, the CLI and
web read). :func:`open_store` picks the implementation from a URL; :class:`BatchWriter` sits in
front of any store so the monitor's hot path never waits on disk.

Opening sorts failures by whose they are, because the CLI's exit code says what to do next:
a URL or path the user got wrong is a :class:`~livesite.errors.StoreURLError` (exit 2), a server
that does not answer is :class:`~livesite.errors.StoreUnavailable` (exit 4), anything else stays a
:class:`~livesite.errors.StoreError` (exit 3). No message ever holds the URL's password.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

from livesite.errors import StoreError, StoreUnavailable, StoreURLError
from livesite.store.base import (
    Compaction,
    ResultQuery,
    ResultReader,
    ResultWriter,
    SampleQuery,
    SampleReader,
    Samples,
    StateHistory,
    Store,
    Uptime,
)
from livesite.store.batch import BatchWriter, StoreHealth
from livesite.store.postgres import PostgresStore
from livesite.store.sqlite import SqliteStore

__all__ = [
    "BatchWriter",
    "Compaction",
    "PostgresStore",
    "ResultQuery",
    "ResultReader",
    "ResultWriter",
    "SampleQuery",
    "SampleReader",
    "Samples",
    "SqliteStore",
    "StateHistory",
    "Store",
    "StoreHealth",
    "Uptime",
    "open_store",
    "redact_url",
    "sqlite_path",
]

_SQLITE = "sqlite://"
_POSTGRES = ("postgresql://", "postgres://")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_MASK = "****"

# asyncpg's answers that mean "nobody is there right now", as opposed to "you are not welcome".
_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unknown host (gaierror), unreachable network, TimeoutError
    asyncpg.CannotConnectNowError,  # the server is starting up or shutting down
    asyncpg.TooManyConnectionsError,
)
# ... and those that mean the URL itself is wrong: unknown user or database, wrong password.
_REFUSED: tuple[type[BaseException], ...] = (
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidPasswordError,
    asyncpg.InvalidCatalogNameError,
)


def redact_url(url: str) -> str:
    """``url`` fit to print: the password (in the userinfo or a ``password=`` parameter) is ``****``.

    ``postgresql://u:secret@db:5432/x`` becomes ``postgresql://u:****@db:5432/x``. A URL that cannot be
    parsed is returned with everything between ``://`` and ``@`` masked but the user name.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    credentials, at, host = authority.rpartition("@")
    if at and ":" in credentials:
        user = credentials.split(":", 1)[0]
        authority = f"{user}:{_MASK}@{host}"
    path, question, query = tail.partition("?")
    if question:
        pairs = [
            f"{key}={_MASK}" if key.lower() in ("password", "passfile", "sslpassword") else f"{key}={value}"
            for key, value in parse_qsl(query, keep_blank_values=True)
        ]
        query = "&".join(pairs)
    return f"{scheme}{sep}{authority}{slash}{path}{question}{query}"


def _secrets_of(url: str) -> list[str]:
    """Every password the URL carries, to scrub from messages written by drivers we do not control."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
        if parts.password:
            found.append(parts.password)
        found += [v for k, v in parse_qsl(parts.query) if k.lower() in ("password", "sslpassword") and v]
    except ValueError:
        pass
    credentials = url.partition("://")[2].partition("/")[0].rpartition("@")[0]
    if ":" in credentials:
        found.append(credentials.split(":", 1)[1])
    return sorted({s for s in found if s}, key=len, reverse=True)


def _scrub(text: str, url: str) -> str:
    for secret in _secrets_of(url):
        text = text.replace(secret, _MASK)
    return text


def sqlite_path(url: str, base_dir: Path = Path(".")) -> Path | None:
    """The file a ``sqlite://`` URL names (relative paths against ``base_dir``); None for other schemes.

    Raises:
        StoreURLError: a ``sqlite://`` URL without a path.
    """
    if not url.startswith(_SQLITE):
        return None
    rest = url[len(_SQLITE) :]
    if not rest.startswith("/") or rest == "/":
        raise StoreURLError(
            f"cannot read the SQLite path in store URL {redact_url(url)!r}",
            hint="write sqlite:///relative/results.db or sqlite:////absolute/results.db",
        )
    path = Path(rest[1:])  # "sqlite:///" + path: absolute paths keep their own leading slash
    return path if path.is_absolute() else base_dir / path


async def open_store(url: str, base_dir: Path = Path("."), *, create: bool = True) -> Store:
    """Open the store named by ``url``; an async factory because opening does I/O.

    - ``sqlite:///relative/path.db``: a file relative to ``base_dir`` (the caller's rule: the config's
      folder for ``store.url``, the current directory for a ``--store`` option)
    - ``sqlite:////abs/path.db``: an absolute path
    - ``postgresql://user[:password]@host[:port]/db`` (or ``postgres://``): a PostgreSQL database

    A reader passes ``create=False``: a mistyped path then says so instead of reading a new, empty file.

    Raises:
        StoreURLError: unknown scheme, malformed URL, a SQLite path that cannot be created or written, a
            file that is not a SQLite database, or a PostgreSQL login or database that does not exist.
        StoreUnavailable: the PostgreSQL server cannot be reached.
        NoStoreError: ``create`` is false and there is no SQLite file at the path.
        StoreError: anything else that stops the store from opening.
    """
    if url.startswith(_POSTGRES):
        return await _open_postgres(url)
    path = sqlite_path(url, base_dir)
    if path is not None:
        return await _open_sqlite(path, create=create)
    scheme = url.partition("://")[0] if "://" in url else url
    raise StoreURLError(
        f"unknown store URL scheme in {redact_url(scheme)[:100]!r}",
        hint="use sqlite:///results.db for a local file or postgresql://user@host:5432/db",
    )


async def _open_postgres(url: str) -> Store:
    shown = redact_url(url)
    try:
        port = urlsplit(url).port  # raises for a port that is not a number from 0 to 65535
    except ValueError:
        raise StoreURLError(
            f"the port in store URL {shown} is not a number from 1 to 65535",
            hint="write postgresql://user@host:5432/db, or leave the port out for 5432",
        ) from None
    if port == 0:
        raise StoreURLError(f"port 0 in store URL {shown}", hint="PostgreSQL listens on 5432 by default")
    try:
        # No connection floor: with one, asyncpg keeps reconnecting in the background during an
        # outage and logs a traceback on every try. Connections are still reused between writes
        # (an idle one lives for minutes), and the writer's own retries say what happens.
        return await PostgresStore.open(url, min_size=0)
    except StoreError as exc:
        cause = exc.__cause__
        if isinstance(cause, _REFUSED):
            raise _refused(url, cause) from None
        if isinstance(cause, _UNREACHABLE):
            raise _unreachable(url, cause) from None
        raise StoreError(_scrub(exc.message, url), hint=exc.hint) from None
    except _REFUSED as exc:  # raised while preparing the tables, on the pool's first connection
        raise _refused(url, exc) from None
    except _UNREACHABLE as exc:
        raise _unreachable(url, exc) from None
    except (ValueError, TypeError) as exc:  # asyncpg's own URL parsing: a bad query parameter, say
        raise StoreURLError(
            f"cannot use store URL {shown}: {_scrub(str(exc), url)}",
            hint="write postgresql://user[:password]@host[:port]/database",
        ) from None


def _refused(url: str, exc: BaseException) -> StoreURLError:
    return StoreURLError(
        f"the PostgreSQL store {redact_url(url)} refused the login: {_scrub(str(exc), url)}",
        hint="check the URL's user, password and database name",
    )


def _unreachable(url: str, exc: BaseException) -> StoreUnavailable:
    reason = _scrub(str(exc), url) or type(exc).__name__
    return StoreUnavailable(
        f"the PostgreSQL store {redact_url(url)} cannot be reached: {reason}",
        hint="check that the server runs and the host and port are right; then run the command again",
    )


async def _open_sqlite(path: Path, *, create: bool) -> Store:
    _check_sqlite_path(path, create=create)
    try:
        return await SqliteStore.open(path, create=create)
    except StoreURLError:
        raise
    except StoreError as exc:
        if isinstance(exc.__cause__, OSError):  # the folder could not be made: the user's path
            raise StoreURLError(exc.message, hint=exc.hint) from exc
        raise


def _check_sqlite_path(path: Path, *, create: bool) -> None:
    """Say what is wrong with a path before SQLite does, as a usage error: SQLite only says "unable to
    open database file", and a file that is not a database would otherwise be an internal error."""
    hint = "point the store URL at a new file in a folder livesite can write to, or at a livesite store"
    if path.exists():
        if not path.is_file():
            raise StoreURLError(f"the SQLite store path {path} is not a regular file", hint=hint)
        try:
            with path.open("rb") as f:
                head = f.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            raise StoreURLError(f"cannot read the SQLite store {path}: {exc.strerror}", hint=hint) from None
        if head and head != _SQLITE_MAGIC:
            raise StoreURLError(f"{path} is not a SQLite database, so not a livesite store", hint=hint)
        if create and not os.access(path, os.R_OK | os.W_OK):
            raise StoreURLError(f"cannot write the SQLite store {path}: permission denied", hint=hint)
        return
    if not create:
        return  # SqliteStore.open says "no results store at ..." with the right hint
    folder = path.parent
    while not folder.exists():  # the nearest folder that exists decides whether the rest can be made
        folder = folder.parent
    if not folder.is_dir():
        raise StoreURLError(f"cannot create the SQLite store {path}: {folder} is not a folder", hint=hint)
    # os.access also answers False on a read-only file system, even for root.
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreURLError(f"cannot create the SQLite store {path}: {folder} is not writable", hint=hint)
    # Some folders refuse new files whatever access() says (/proc, /sys): creating the file is the one
    # sure test. SQLite takes an empty file as a new database.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab"):
            pass
    except OSError as exc:
        raise StoreURLError(f"cannot create the SQLite store {path}: {exc.strerror}", hint=hint) from None
