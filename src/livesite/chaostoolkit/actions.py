"""Chaos Toolkit actions: inject a livesite fault (a lease with a TTL), revert it, or halt everything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from livesite.chaos.faults import FAULTS, FaultError
from livesite.chaos.leases import FAULT, FaultBook, Held
from livesite.chaos.spec import FaultSpec, ProcessFault
from livesite.chaostoolkit import resolve_config, run_sync
from livesite.cli import stores
from livesite.config.types import parse_duration
from livesite.store import open_store
from livesite.store.leases import open_leases

__all__ = ["halt", "inject", "revert"]
_FAULT: TypeAdapter[FaultSpec] = TypeAdapter(FaultSpec)
SEPARATOR = "::"


async def _book(config: str | None) -> tuple[Any, FaultBook]:
    if config is None:  # the default store, as `livesite chaos halt` without options
        url, base_dir = stores.DEFAULT_URL, Path.cwd()
    else:
        url, base_dir = stores.from_config(resolve_config(config))
    store = await open_store(url, base_dir=base_dir)
    return store, FaultBook(await open_leases(store))


async def _inject(config: str, fault: dict[str, Any], ttl: str) -> str:
    spec = _FAULT.validate_python(fault)
    targets = list(await FAULTS[spec.type].resolve(spec))
    if not targets:
        raise FaultError(f"no target matches the {spec.type} fault")
    wanted = spec.count if isinstance(spec, ProcessFault) else 1
    if wanted < len(targets) and isinstance(spec, ProcessFault):
        targets = targets[:wanted]
    store, book = await _book(config)
    try:
        held: list[Held] = []
        for target in targets:
            held.append(await book.apply("chaostoolkit", spec, target, parse_duration(ttl)))
        return SEPARATOR.join([config, *(f"{h.lease.resource}@{h.lease.token}" for h in held)])
    finally:
        await store.close()


def inject(config: str, fault: dict[str, Any], ttl: str = "5m") -> str:
    """Apply ``fault`` (the mapping of a fault in a livesite experiment) for at most ``ttl``; returns the
    lease id that :func:`revert` takes."""
    return run_sync(_inject(config, fault, ttl))


async def _revert(lease: str) -> int:
    config, *held = lease.split(SEPARATOR)
    wanted = {tuple(h.rsplit("@", 1)) for h in held}
    store, book = await _book(config)
    try:
        count = 0
        for found in await book.held():
            if found.lease.kind == FAULT and (found.lease.resource, found.lease.token) in wanted:
                await book.revert(found)
                count += 1
        return count
    finally:
        await store.close()


def revert(lease: str) -> int:
    """Revert the faults of a lease id from :func:`inject` (already expired or reverted: nothing to do)."""
    return run_sync(_revert(lease))


async def _halt(config: str | None) -> int:
    store, book = await _book(config)
    try:
        reverted, errors = await book.halt()
        if errors:
            raise FaultError("; ".join(errors))
        return len(reverted)
    finally:
        await store.close()


def halt(config: str | None = None) -> int:
    """The kill switch: stop every livesite experiment and revert every active fault of the config's
    store (without a config: of ``livesite.db`` here, as ``livesite chaos halt``)."""
    return run_sync(_halt(config))
