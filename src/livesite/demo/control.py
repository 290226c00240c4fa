"""Change a running demo at run time: partner mode, front weights, prices, purges, deploys and kills.

Every call to an admin endpoint carries the demo's admin token from its state (`DemoState.admin_token`).

These are the levers tests, scenarios and later pillars (canaries through the front, chaos on instances) pull.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterable, Mapping

import httpx
from pydantic import BaseModel

from livesite.demo import procs
from livesite.demo.defects import canonical
from livesite.demo.errors import DemoError
from livesite.demo.lifecycle import READY_SECONDS, state_lock
from livesite.demo.responses import admin_headers
from livesite.demo.settings import PartnerMode, ShopSettings
from livesite.demo.state import Component, DemoState, read_state, write_private, write_state


class BackendCounters(BaseModel):
    requests: int
    errors: int
    latency_seconds_sum: float


class FrontStats(BaseModel):
    """`GET /-/stats` of a zone's front."""

    front: str
    zone: str
    weights: dict[str, int]
    backends: dict[str, BackendCounters]


class PriceChange(BaseModel):
    """What the shop reported after a price change: the product and the purge outcome per zone."""

    product: dict[str, object]
    purge: dict[str, str]


async def _call(state: DemoState, method: str, url: str, json: object | None = None) -> httpx.Response:
    """One admin call, with the demo's admin token."""
    async with httpx.AsyncClient(timeout=10.0, headers=admin_headers(state.admin_token)) as client:
        try:
            reply = await client.request(method, url, json=json)
        except httpx.HTTPError as exc:
            raise DemoError(
                f"{method} {url} failed: {type(exc).__name__}", hint="is the demo running?"
            ) from exc
    if reply.status_code >= 400:
        raise DemoError(f"{method} {url} answered {reply.status_code}: {reply.text[:300]}")
    return reply


async def set_partner_mode(state: DemoState, mode: PartnerMode, delay_ms: int = 0) -> None:
    """Make the partner `ok`, `slow` (by `delay_ms`), `error` (HTTP 500) or `down` (HTTP 503)."""
    await _call(state, "PUT", f"{state.partner_url}/-/mode", {"mode": mode, "delay_ms": delay_ms})


async def get_weights(state: DemoState, zone: str) -> dict[str, int]:
    """The weights the front of `zone` is really using."""
    return dict((await _call(state, "GET", f"{state.front_url(zone)}/-/weights")).json())


async def set_weights(state: DemoState, zone: str, weights: Mapping[str, int]) -> dict[str, int]:
    """Set some or all weights of `zone`'s front; returns the weights now in force.

    Raises:
        DemoError: an unknown instance name or a negative weight (the front's message says which).
    """
    return dict((await _call(state, "PUT", f"{state.front_url(zone)}/-/weights", dict(weights))).json())


async def front_stats(state: DemoState, zone: str, reset: bool = False) -> FrontStats:
    """Per-backend request and error counts of `zone`'s front (`reset` zeroes them afterwards)."""
    stats = FrontStats.model_validate_json(
        (await _call(state, "GET", f"{state.front_url(zone)}/-/stats")).content
    )
    if reset:
        await _call(state, "DELETE", f"{state.front_url(zone)}/-/stats")
    return stats


async def purge(
    state: DemoState, paths: Iterable[str] = (), zones: Iterable[str] | None = None
) -> dict[str, int]:
    """Purge edge caches directly (operator purge; no paths = everything). Returns entries purged per zone."""
    out: dict[str, int] = {}
    for zone in state.options.zones if zones is None else zones:
        reply = await _call(state, "POST", f"{state.zone_url(zone)}/-/purge", {"paths": list(paths)})
        out[zone] = int(reply.json()["purged"])
    return out


async def set_price(
    state: DemoState, product_id: int, price_cents: int, zone: str | None = None
) -> PriceChange:
    """Change a price through the shop's admin API (via `zone`'s front); the shop purges the edges itself."""
    front = state.front_url(zone or state.options.zones[0])
    reply = await _call(
        state, "PUT", f"{front}/api/admin/products/{product_id}", {"price_cents": price_cents}
    )
    return PriceChange.model_validate_json(reply.content)


async def kill(state: DemoState, name: str, signum: int = signal.SIGKILL) -> bool:
    """Kill one component from the outside (as a crash would); the state file keeps it, status shows it dead.

    Returns False when it was not running. Raises DemoError for an unknown name.
    """
    return await procs.kill(state.component(name), signum)


async def deploy(
    state: DemoState, instance: str, revision: str | None = None, defects: Iterable[str] | None = None
) -> DemoState:
    """Restart one shop instance on the same port with a new revision and/or defects (None = keep).

    Returns the updated state, also written to the state file.

    Raises:
        DefectError: an unknown defect.
        DemoError: not a shop instance, the port was taken meanwhile, or the instance did not become healthy.
    """
    with state_lock(state.state_dir):
        current = read_state(state.state_dir)
        if current is None:
            raise DemoError(f"no demo runs in {state.state_dir}", hint="start one with `livesite demo up`")
        old = current.component(instance)
        if old.kind != "shop":
            raise DemoError(
                f"{instance} is a {old.kind}; only shop instances are deployed",
                hint=f"shop instances: {', '.join(c.name for c in current.shops())}",
            )
        new_defects = (
            old.defects
            if defects is None
            else [d for d in canonical(defects) if not d.startswith("stale-zone")]
        )
        settings = ShopSettings.model_validate_json(old.config_path.read_text())
        settings = settings.model_copy(update={"revision": revision or old.revision, "defects": new_defects})
        await procs.stop([old])
        sock = procs.bind(old.port)  # the old process is gone, so only a stranger can hold the port now
        try:
            write_private(old.config_path, settings.model_dump_json(indent=2))
            spawned = await procs.spawn(
                procs.component_argv("shop", old.config_path, sock.fileno()), old.log_path, sock
            )
        finally:
            sock.close()
        new = old.model_copy(
            update={
                "pid": spawned.pid,
                "create_time": spawned.create_time,
                "revision": settings.revision,
                "defects": new_defects,
            }
        )
        updated = current.model_copy(
            update={"components": [new if c.name == instance else c for c in current.components]}
        )
        write_state(updated)
        async with httpx.AsyncClient() as client:
            await procs.wait_ready(client, new, asyncio.get_running_loop().time() + READY_SECONDS)
        return updated


async def restart(state: DemoState, instance: str) -> DemoState:
    """Start a (killed) shop instance again with its current revision and defects."""
    return await deploy(state, instance)


__all__ = [
    "BackendCounters",
    "Component",
    "FrontStats",
    "PriceChange",
    "deploy",
    "front_stats",
    "get_weights",
    "kill",
    "purge",
    "restart",
    "set_partner_mode",
    "set_price",
    "set_weights",
]
