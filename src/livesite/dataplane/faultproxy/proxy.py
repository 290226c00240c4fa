"""A proxy: a listener, its upstream, the toxics on each stream and the live connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from livesite.dataplane.faultproxy.errors import ApiError
from livesite.dataplane.faultproxy.link import Connection
from livesite.dataplane.faultproxy.toxics import STREAMS, ToxicEntry

log = logging.getLogger(__name__)
_NO_TOXICS: dict[str, list[ToxicEntry]] = {"upstream": [], "downstream": []}


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:80`` for IPv6) → (host, port).

    Raises:
        ValueError: no port, or a port that is not 0..65535.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{address[:100]!r} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def join_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Proxy:
    """Listens on ``listen`` and relays each connection to ``upstream`` through its toxics."""

    def __init__(self, name: str, listen: str, upstream: str, rng: random.Random) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.rng = rng
        self.enabled = False
        self.toxics: dict[str, ToxicEntry] = {}  # in the order they were added
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None
        self._parsed: tuple[str, tuple[str, int]] = ("", ("", 0))

    def chains(self) -> dict[str, list[ToxicEntry]]:
        if not self.toxics:
            return _NO_TOXICS  # every new connection asks: the common case costs nothing
        return {s: [t for t in self.toxics.values() if t.stream == s] for s in STREAMS}

    def toxic_list(self) -> list[ToxicEntry]:
        """Upstream toxics first, then downstream, each in the order added (Toxiproxy's order)."""
        chains = self.chains()
        return chains["upstream"] + chains["downstream"]

    # -- listening
    async def start(self) -> None:
        """Listen (a port of 0 picks one, and ``listen`` then names it).

        Raises:
            ApiError: 500 when the address cannot be listened on, as Toxiproxy answers.
        """
        if self.enabled:
            return
        try:
            host, port = split_address(self.listen)
            server = await asyncio.get_running_loop().create_server(
                self._accept, host or "127.0.0.1", port, reuse_address=True, backlog=1024
            )
        except (OSError, ValueError, OverflowError, UnicodeError) as e:
            raise ApiError(f"listen tcp {self.listen}: {e}", 500) from None
        bound = server.sockets[0].getsockname()
        self.listen = join_address(bound[0], bound[1])
        self._server = server
        self.enabled = True

    async def stop(self) -> None:
        """Stop listening and drop every live connection (Toxiproxy's ``enabled: false``)."""
        if not self.enabled:
            return
        self.enabled = False
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for connection in list(self.connections):
            connection.abort()
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    def _upstream_address(self) -> tuple[str, int]:
        if self._parsed[0] != self.upstream:  # parsed once per upstream, not per connection
            host, port = split_address(self.upstream)
            self._parsed = (self.upstream, (host or "127.0.0.1", port))
        return self._parsed[1]

    def _accept(self) -> asyncio.Protocol:
        connection = Connection(self.connections.discard)
        self.connections.add(connection)
        asyncio.get_running_loop().create_task(self._dial(connection))
        return connection.client

    async def _dial(self, connection: Connection) -> None:
        loop = asyncio.get_running_loop()
        try:
            host, port = split_address(self.upstream)  # checked when the proxy was created
            transport, _ = await loop.create_connection(
                lambda: connection.upstream, host or "127.0.0.1", port
            )
        except (OSError, ValueError, OverflowError, UnicodeError) as e:
            log.info("proxy %s: cannot reach upstream %s: %s", self.name, self.upstream, e)
            connection.client.close(reset=False)
            if connection.client.lost:
                connection.side_lost()
            return
        if connection.done or not self.enabled:
            transport.abort()
            return
        connection.start(transport, self.rng, self.chains())

    # -- toxics, applied to live connections too
    async def add_toxic(self, entry: ToxicEntry) -> None:
        self.toxics[entry.name] = entry
        for connection in list(self.connections):
            if connection.flows:
                connection.flows[entry.stream].add(entry)

    async def update_toxic(self, entry: ToxicEntry) -> None:
        self.toxics[entry.name] = entry
        for connection in list(self.connections):
            if connection.flows:
                await connection.flows[entry.stream].update(entry)

    async def remove_toxic(self, name: str) -> ToxicEntry | None:
        entry = self.toxics.pop(name, None)
        if entry is not None:
            await asyncio.gather(
                *(c.flows[entry.stream].remove(name) for c in list(self.connections) if c.flows)
            )
        return entry
