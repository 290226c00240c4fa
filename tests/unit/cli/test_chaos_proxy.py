"""`livesite chaos proxy` refuses a bad config or option before it opens anything (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from livesite.cli import main as cli
from livesite.testing.servers import free_port


def test_a_config_that_is_not_json_is_refused_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "proxies.json"
    config.write_text('[\n  {"name": "a",\n   "upstream": }\n]\n')
    assert cli.main(["chaos", "proxy", "--api", f"127.0.0.1:{free_port()}", "--config", str(config)]) == 2
    assert f"{config}:3:" in capsys.readouterr().err.replace("\n", "")


def test_a_config_that_is_not_a_list_of_proxies_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "proxies.json"
    config.write_text('{"name": "a"}')
    assert cli.main(["chaos", "proxy", "--api", f"127.0.0.1:{free_port()}", "--config", str(config)]) == 2
    assert "JSON array of proxies" in capsys.readouterr().err.replace("\n", "")


def test_a_config_proxy_without_upstream_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "proxies.json"
    config.write_text('[{"name": "a"}]')
    assert cli.main(["chaos", "proxy", "--api", f"127.0.0.1:{free_port()}", "--config", str(config)]) == 2
    assert "missing required field: upstream at proxy 1" in capsys.readouterr().err.replace("\n", "")


@pytest.mark.parametrize(
    ("option", "value"), [("--default-ttl", "soon"), ("--default-ttl", "0s"), ("--api", "nowhere")]
)
def test_a_bad_option_is_a_usage_error(option: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["chaos", "proxy", option, value]) == 2
    assert option in capsys.readouterr().err.replace("\n", "")
