"""Where Results, StateChanges and their per-minute aggregates live.

The contract is in :mod:`livesite.store.base`, split by consumer (the monitor writes, the CLI and
web read). :func:`open_store` picks the implementation from a URL; :class:`BatchWriter` sits in
front of any store so the monitor's hot path never waits on disk.
"""

from __future__ import annotations

from pathlib import Path

from livesite.errors import StoreError
from livesite.store.base import Compaction, ResultQuery, ResultReader, ResultWriter, Store, Uptime
from livesite.store.batch import BatchWriter
from livesite.store.postgres import PostgresStore
from livesite.store.sqlite import SqliteStore

__all__ = [
    "BatchWriter",
    "Compaction",
    "PostgresStore",
    "ResultQuery",
    "ResultReader",
    "ResultWriter",
    "SqliteStore",
    "Store",
    "Uptime",
    "open_store",
]

_SQLITE = "sqlite://"
_POSTGRES = ("postgresql://", "postgres://")


async def open_store(url: str, base_dir: Path = Path("."), *, create: bool = True) -> Store:
    """Open the store named by ``url``; an async factory because opening does I/O.

    - ``sqlite:///relative/path.db``: a file relative to ``base_dir`` (usually the config's folder)
    - ``sqlite:////abs/path.db``: an absolute path
    - ``postgresql://user[:password]@host[:port]/db`` (or ``postgres://``): a PostgreSQL database

    A reader passes ``create=False``: a mistyped path then says so instead of reading a new, empty file.

    Raises:
        StoreError: the URL has an unknown scheme or no path, or the store cannot be opened.
    """
    if url.startswith(_POSTGRES):
        return await PostgresStore.open(url)
    if url.startswith(_SQLITE):
        rest = url[len(_SQLITE) :]
        if not rest.startswith("/") or rest == "/":
            raise StoreError(
                f"cannot read the SQLite path in store URL {url!r}",
                hint="write sqlite:///relative/results.db or sqlite:////absolute/results.db",
            )
        relative = rest[1:]  # "sqlite:///" + path: absolute paths keep their own leading slash
        path = Path(relative)
        return await SqliteStore.open(path if path.is_absolute() else base_dir / path, create=create)
    scheme = url.partition("://")[0] if "://" in url else url
    raise StoreError(
        f"unknown store URL scheme in {scheme!r}",
        hint="use sqlite:///results.db for a local file or postgresql://user@host:5432/db",
    )
