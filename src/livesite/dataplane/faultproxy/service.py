"""The fault proxy's state: its proxies and their toxics, changed only through these methods, one
change at a time. Toxic TTLs live here: a timer per toxic removes it when its time is up, whoever
set it and whether or not they are still alive."""

from __future__ import annotations

import asyncio
import logging
import random

from livesite.dataplane.faultproxy import wire
from livesite.dataplane.faultproxy.errors import (
    PROXY_EXISTS,
    PROXY_NOT_FOUND,
    TOXIC_EXISTS,
    TOXIC_NOT_FOUND,
    ApiError,
    bad_body,
    missing_field,
)
from livesite.dataplane.faultproxy.proxy import Proxy, split_address
from livesite.dataplane.faultproxy.toxics import ToxicEntry

log = logging.getLogger(__name__)
DEFAULT_LISTEN = "127.0.0.1:0"


def _resolved_listen(listen: str) -> str:
    return listen or DEFAULT_LISTEN


class FaultProxy:
    """Named proxies with toxics, as a Toxiproxy server holds them.

    ``rng`` decides toxicity and jitter, so a seeded run repeats; ``default_ttl_seconds`` is the TTL
    of a toxic created without one (None: such toxics stay until removed, as in Toxiproxy).
    """

    def __init__(self, rng: random.Random | None = None, default_ttl_seconds: float | None = None) -> None:
        self.rng = rng or random.Random()
        self.default_ttl_seconds = default_ttl_seconds
        self.proxies: dict[str, Proxy] = {}
        self._lock = asyncio.Lock()
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def get(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise PROXY_NOT_FOUND from None

    # -- proxies
    async def create(self, data: object) -> Proxy:
        given = wire.proxy_input(data)
        if not given.name:
            raise missing_field("name")
        if not given.upstream:
            raise missing_field("upstream")
        _check_upstream(given.upstream)
        async with self._lock:
            if given.name in self.proxies:
                raise PROXY_EXISTS
            proxy = Proxy(given.name, _resolved_listen(given.listen), given.upstream, self.rng)
            if given.enabled is not False:
                await proxy.start()
            self.proxies[proxy.name] = proxy
            return proxy

    async def update(self, name: str, data: object) -> Proxy:
        async with self._lock:
            proxy = self.get(name)
            given = wire.proxy_input(data)
            listen = given.listen or proxy.listen
            upstream = given.upstream or proxy.upstream
            enabled = proxy.enabled if given.enabled is None else given.enabled
            _check_upstream(upstream)
            if _differs(proxy, listen, upstream):
                await proxy.stop()
                proxy.listen, proxy.upstream = listen, upstream
                if enabled:
                    await proxy.start()
            elif enabled and not proxy.enabled:
                await proxy.start()
            elif not enabled and proxy.enabled:
                await proxy.stop()
            return proxy

    async def delete(self, name: str) -> None:
        async with self._lock:
            proxy = self.get(name)
            await proxy.stop()
            self._forget_toxics(proxy)
            del self.proxies[name]

    async def populate(self, data: object) -> tuple[list[Proxy], ApiError | None]:
        """Create or replace each proxy of a list; one that is the same (listen and upstream) is kept
        as it is, toxics and all. Returns what was populated and the error that stopped it."""
        if not isinstance(data, list):
            raise bad_body(f"want a JSON array of proxies, got {type(data).__name__}")
        given = [wire.proxy_input(p) for p in data]
        for i, p in enumerate(given, start=1):
            if not p.name:
                raise missing_field(f"name at proxy {i}")
            if not p.upstream:
                raise missing_field(f"upstream at proxy {i}")
            _check_upstream(p.upstream)
        done: list[Proxy] = []
        async with self._lock:
            for p in given:
                existing = self.proxies.get(p.name)
                listen = _resolved_listen(p.listen)
                if existing is not None:
                    if not _differs(existing, listen, p.upstream):
                        done.append(existing)
                        continue
                    await existing.stop()
                    self._forget_toxics(existing)
                    del self.proxies[p.name]
                proxy = Proxy(p.name, listen, p.upstream, self.rng)
                if p.enabled is not False:
                    try:
                        await proxy.start()
                    except ApiError as e:
                        return done, e
                self.proxies[proxy.name] = proxy
                done.append(proxy)
        return done, None

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        async with self._lock:
            for proxy in self.proxies.values():
                await proxy.start()
                for name in list(proxy.toxics):
                    await self._remove(proxy, name)

    async def close(self) -> None:
        async with self._lock:
            for proxy in self.proxies.values():
                self._forget_toxics(proxy)
                await proxy.stop()

    # -- toxics
    async def add_toxic(self, proxy_name: str, data: object) -> ToxicEntry:
        async with self._lock:
            proxy = self.get(proxy_name)
            entry = wire.new_toxic(data, self.now(), self.default_ttl_seconds)
            if entry.name in proxy.toxics:
                raise TOXIC_EXISTS
            await proxy.add_toxic(entry)
            self._arm(proxy, entry)
            return entry

    async def update_toxic(self, proxy_name: str, toxic_name: str, data: object) -> ToxicEntry:
        async with self._lock:
            proxy = self.get(proxy_name)
            current = proxy.toxics.get(toxic_name)
            if current is None:
                raise TOXIC_NOT_FOUND
            entry = wire.changed_toxic(current, data, self.now())
            await proxy.update_toxic(entry)
            self._arm(proxy, entry)
            return entry

    async def remove_toxic(self, proxy_name: str, toxic_name: str) -> None:
        async with self._lock:
            proxy = self.get(proxy_name)
            if toxic_name not in proxy.toxics:
                raise TOXIC_NOT_FOUND
            await self._remove(proxy, toxic_name)

    def toxic(self, proxy_name: str, toxic_name: str) -> ToxicEntry:
        found = self.get(proxy_name).toxics.get(toxic_name)
        if found is None:
            raise TOXIC_NOT_FOUND
        return found

    async def _remove(self, proxy: Proxy, name: str) -> None:
        timer = self._timers.pop((proxy.name, name), None)
        if timer is not None:
            timer.cancel()
        await proxy.remove_toxic(name)

    def _forget_toxics(self, proxy: Proxy) -> None:
        for name in proxy.toxics:
            timer = self._timers.pop((proxy.name, name), None)
            if timer is not None:
                timer.cancel()

    # -- TTL
    def _arm(self, proxy: Proxy, entry: ToxicEntry) -> None:
        key = (proxy.name, entry.name)
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        if entry.expires_at is None:
            return
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_at(
            entry.expires_at, lambda: loop.create_task(self._expire(proxy, entry))
        )

    async def _expire(self, proxy: Proxy, entry: ToxicEntry) -> None:
        async with self._lock:
            # Only the toxic this timer was set for: it may have been removed, replaced or renewed.
            if self.proxies.get(proxy.name) is not proxy or proxy.toxics.get(entry.name) is not entry:
                return
            self._timers.pop((proxy.name, entry.name), None)
            await proxy.remove_toxic(entry.name)
            log.info(
                "toxic %s on proxy %s expired after its TTL of %gs", entry.name, proxy.name, entry.ttl_seconds
            )


def _check_upstream(upstream: str) -> None:
    try:
        split_address(upstream)
    except ValueError:
        raise bad_body(f"upstream: {upstream[:100]!r} is not host:port") from None


def _differs(proxy: Proxy, listen: str, upstream: str) -> bool:
    """Toxiproxy's rule: a proxy differs when its upstream or its resolved listen address does."""
    if upstream != proxy.upstream:
        return True
    try:
        host, port = split_address(listen)
        current_host, current_port = split_address(proxy.listen)
    except ValueError:
        return True
    return port != current_port or (host or "127.0.0.1") not in {current_host, "localhost"}
