"""Options, state helpers and the plan of processes (no process is started here)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from livesite.demo import DemoError, DemoOptions, DemoState
from livesite.demo.settings import FrontSettings, ShopSettings
from livesite.demo.topology import check, plan, previous_revision, shop_revision


def test_previous_revision_counts_down() -> None:
    assert previous_revision("v2") == "v1"
    assert previous_revision("release-10") == "release-9"
    assert previous_revision("v0") == "v0-previous"
    assert previous_revision("blue") == "blue-previous"


def test_stale_zone_keeps_its_zone_on_the_previous_revision_without_defects() -> None:
    options = DemoOptions(state_dir=Path("/tmp/x"), revision="v3", defects=["slow:10", "stale-zone:zone-b"])
    assert shop_revision(options, "zone-a") == ("v3", ["slow:10"])
    assert shop_revision(options, "zone-b") == ("v2", [])


def test_stale_zone_must_name_a_zone_of_the_demo() -> None:
    with pytest.raises(DemoError, match="unknown zone"):
        check(DemoOptions(state_dir=Path("/tmp/x"), defects=["stale-zone:zone-q"]))


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValidationError, match="zone-a"):
        DemoOptions(state_dir=Path("/tmp/x"), zones=("east",))
    with pytest.raises(ValidationError):
        DemoOptions(state_dir=Path("/tmp/x"), token_ttl_seconds=0)


def test_plan_wires_edge_to_front_to_shops_and_the_env_names_them(tmp_path: Path) -> None:
    options = DemoOptions(state_dir=tmp_path, instances_per_zone=3, customers_per_second=1)
    planned = plan(options, tmp_path / "shop.db")
    try:
        names = [p.component.name for p in planned]
        assert names[0] == "partner" and names[-1] == "customers"
        assert {"shop-a1", "shop-a2", "shop-a3", "front-a", "edge-a", "shop-b3", "front-b", "edge-b"} <= set(
            names
        )
        ports = [p.component.port for p in planned]
        assert len(set(ports)) == len(ports)
        front_a = next(p.settings for p in planned if p.component.name == "front-a")
        assert isinstance(front_a, FrontSettings) and set(front_a.backends) == {
            "shop-a1",
            "shop-a2",
            "shop-a3",
        }
        shop = next(p.settings for p in planned if p.component.name == "shop-b1")
        assert isinstance(shop, ShopSettings) and set(shop.edge_purge_urls) == {"zone-a", "zone-b"}

        state = DemoState(
            state_dir=tmp_path,
            options=options,
            db_path=tmp_path / "shop.db",
            started_at=datetime.now(UTC),
            components=[p.component for p in planned],
        )
        env = state.env()
        assert env["LIVESITE_DEMO_ZONE_A_URL"] == state.zone_url("zone-a")
        assert env["LIVESITE_DEMO_FRONT_B_URL"] == state.front_url("zone-b")
        assert env["LIVESITE_DEMO_PARTNER_URL"] == state.partner_url
        assert env["LIVESITE_DEMO_STATE"] == str(tmp_path / "state.json")
        assert [c.name for c in state.shops("zone-a")] == ["shop-a1", "shop-a2", "shop-a3"]
        with pytest.raises(DemoError, match="known components"):
            state.component("shop-z9")
    finally:
        for p in planned:
            p.sock.close()
