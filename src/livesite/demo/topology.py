"""From options to a plan: which components run, on which sockets, told what.

Topology per zone: client -> edge (public zone URL) -> front -> shop instances; one partner; optional customers.
"""

from __future__ import annotations

import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from livesite.demo.defects import parse_defect, parse_defects, valid_names
from livesite.demo.errors import DefectError
from livesite.demo.procs import bind
from livesite.demo.settings import (
    ComponentSettings,
    CustomersSettings,
    EdgeSettings,
    FrontSettings,
    PartnerSettings,
    ShopSettings,
)
from livesite.demo.state import Component, ComponentKind, DemoOptions, zone_short

HEALTH_PATHS: dict[ComponentKind, str] = {
    "shop": "/health",
    "partner": "/health",
    "front": "/-/health",
    "edge": "/-/health",
    "customers": "/-/health",
}
REFRESH_TTL_FACTOR = 12


@dataclass
class Planned:
    """A component about to start: its state entry (pid still 0), its settings and its bound socket."""

    component: Component
    settings: ComponentSettings
    sock: socket.socket


def previous_revision(revision: str) -> str:
    """`v2` -> `v1`, `v1` -> `v0`; anything else gets `-previous` appended."""
    match = re.fullmatch(r"(.*?)(\d+)", revision)
    if match is None or int(match.group(2)) == 0:
        return f"{revision}-previous"
    return f"{match.group(1)}{int(match.group(2)) - 1}"


def shop_revision(options: DemoOptions, zone: str) -> tuple[str, list[str]]:
    """The revision and defects a shop in `zone` runs (`stale-zone` keeps one zone on the old revision)."""
    stale = parse_defects(options.defects).stale_zone
    if stale == zone:
        return previous_revision(options.revision), []
    return options.revision, [d for d in options.defects if parse_defect(d)[0].name != "stale-zone"]


def check(options: DemoOptions) -> None:
    """Validate what the models cannot alone.

    Raises:
        DefectError: `stale-zone` names a zone this demo does not have (a usage error, exit code 2).
    """
    stale = parse_defects(options.defects).stale_zone
    if stale is not None and stale not in options.zones:
        raise DefectError(
            f"defect stale-zone:{stale} names an unknown zone",
            hint=f"zones of this demo: {', '.join(options.zones)} (e.g. stale-zone:{options.zones[-1]}); "
            f"valid defects: {valid_names()}",
        )


def _entry(
    options: DemoOptions,
    name: str,
    kind: ComponentKind,
    zone: str | None,
    sock: socket.socket,
    revision: str | None = None,
    defects: list[str] | None = None,
) -> Component:
    port = sock.getsockname()[1]
    return Component(
        name=name,
        kind=kind,
        zone=zone,
        url=f"http://127.0.0.1:{port}",
        port=port,
        pid=0,
        create_time=0.0,
        health_path=HEALTH_PATHS[kind],
        config_path=options.state_dir / "run" / f"{name}.json",
        log_path=options.state_dir / "logs" / f"{name}.log",
        revision=revision,
        defects=defects or [],
    )


def plan(options: DemoOptions, db_path: Path, admin_token: str | None = None) -> list[Planned]:
    """Bind one socket per component and describe every component. The caller closes the sockets.

    Every component is told `admin_token` (a new random one when None), which its admin endpoints require.
    """
    admin_token = admin_token or secrets.token_urlsafe(24)
    out: list[Planned] = []
    sockets: list[socket.socket] = []

    def sock() -> socket.socket:
        sockets.append(bind(0))
        return sockets[-1]

    try:
        partner_sock = sock()
        partner = _entry(options, "partner", "partner", None, partner_sock)
        out.append(
            Planned(
                partner,
                PartnerSettings(name="partner", state_dir=options.state_dir, admin_token=admin_token),
                partner_sock,
            )
        )
        edge_socks = {zone: sock() for zone in options.zones}
        edge_urls = {zone: f"http://127.0.0.1:{s.getsockname()[1]}" for zone, s in edge_socks.items()}
        for zone in options.zones:
            z = zone_short(zone)
            revision, defects = shop_revision(options, zone)
            backends: dict[str, str] = {}
            for i in range(1, options.instances_per_zone + 1):
                name, s = f"shop-{z}{i}", sock()
                entry = _entry(options, name, "shop", zone, s, revision, defects)
                backends[name] = entry.url
                settings = ShopSettings(
                    name=name,
                    zone=zone,
                    state_dir=options.state_dir,
                    admin_token=admin_token,
                    revision=revision,
                    defects=defects,
                    db_path=db_path,
                    partner_url=partner.url,
                    edge_purge_urls=edge_urls,
                    token_ttl_seconds=options.token_ttl_seconds,
                    refresh_ttl_seconds=options.token_ttl_seconds * REFRESH_TTL_FACTOR,
                    cache_max_age_seconds=max(1, round(options.cache_ttl_seconds)),
                    seed=options.seed,
                )
                out.append(Planned(entry, settings, s))
            s = sock()
            front = _entry(options, f"front-{z}", "front", zone, s)
            out.append(
                Planned(
                    front,
                    FrontSettings(
                        name=front.name,
                        zone=zone,
                        state_dir=options.state_dir,
                        admin_token=admin_token,
                        backends=backends,
                        weights=dict.fromkeys(backends, 100 // len(backends)),
                        failover=not parse_defects(options.defects).no_failover,
                    ),
                    s,
                )
            )
            edge = _entry(options, f"edge-{z}", "edge", zone, edge_socks[zone])
            out.append(
                Planned(
                    edge,
                    EdgeSettings(
                        name=edge.name,
                        zone=zone,
                        state_dir=options.state_dir,
                        admin_token=admin_token,
                        upstream_url=front.url,
                        ttl_seconds=options.cache_ttl_seconds,
                    ),
                    edge_socks[zone],
                )
            )
        if options.customers_per_second > 0:
            s = sock()
            entry = _entry(options, "customers", "customers", None, s)
            out.append(
                Planned(
                    entry,
                    CustomersSettings(
                        name="customers",
                        state_dir=options.state_dir,
                        admin_token=admin_token,
                        zone_urls=list(edge_urls.values()),
                        rate_per_second=options.customers_per_second,
                        seed=options.seed,
                    ),
                    s,
                )
            )
    except BaseException:
        for s in sockets:
            s.close()
        raise
    return out
