"""`livesite demo` commands render what the API returns."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from livesite.cli.demo import app
from livesite.demo import DemoState

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_env_prints_export_lines_for_every_url(demo: DemoState) -> None:
    result = runner.invoke(app, ["env", "--state-dir", str(demo.state_dir)])
    assert result.exit_code == 0, result.output
    lines = dict(line.removeprefix("export ").split("=", 1) for line in result.output.strip().splitlines())
    assert set(lines) == {
        "LIVESITE_DEMO_ZONE_A_URL",
        "LIVESITE_DEMO_ZONE_B_URL",
        "LIVESITE_DEMO_PARTNER_URL",
        "LIVESITE_DEMO_FRONT_A_URL",
        "LIVESITE_DEMO_FRONT_B_URL",
        "LIVESITE_DEMO_STATE",
        "LIVESITE_DEMO_ADMIN_TOKEN",
    }
    assert lines["LIVESITE_DEMO_ZONE_A_URL"] == demo.zone_url("zone-a")


def test_status_lists_every_component_and_exits_0_when_healthy(demo: DemoState) -> None:
    result = runner.invoke(app, ["status", "--state-dir", str(demo.state_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for component in demo.components:
        assert component.name in result.output and str(component.pid) in result.output


def test_unknown_defect_exits_2_listing_valid_defects(tmp_path: Path) -> None:
    result = runner.invoke(app, ["up", "--defect", "gremlins", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown defect 'gremlins'" in result.output and "checkout-errors" in result.output


def test_commands_without_a_demo_say_so(tmp_path: Path) -> None:
    assert runner.invoke(app, ["env", "--state-dir", str(tmp_path)]).exit_code == 2
    assert "nothing to stop" in runner.invoke(app, ["down", "--state-dir", str(tmp_path)]).output
    assert runner.invoke(app, ["status", "--state-dir", str(tmp_path)]).exit_code == 1
