"""Configs that load: environment interpolation, secrets read from files, and a directory of files merged."""

from __future__ import annotations

from pathlib import Path

import pytest

from livesite.checks import DnsCheck, HttpCheck, TlsCheck
from livesite.config import load, loads
from livesite.errors import ConfigError

GOOD = Path(__file__).parent / "good"


def test_environment_variables_defaults_and_dollar_escapes_are_filled_in() -> None:
    config = load(
        GOOD / "interpolation.yaml", env={"SHOP_URL": "https://eu.shop.example.com", "REGION": "eu"}
    )
    assert config.zone("eu-west").base_url == "https://eu.shop.example.com"
    assert config.zone("staging").base_url == "https://staging.shop.example.com"
    check = config.check("price")
    assert isinstance(check, HttpCheck)
    assert check.url == "/api/price?currency=${CURRENCY}"
    assert check.headers == {"X-Env": "prod-eu"}
    assert check.assertions[0].expr == 'body contains "$12.50"'


def test_a_set_variable_wins_over_its_default_and_an_empty_one_does_not() -> None:
    text = "zones:\n  - name: a\n    base_url: ${URL:-https://default.example}\n"
    assert loads(text, env={"URL": "https://set.example"}).zones[0].base_url == "https://set.example"
    assert loads(text, env={"URL": ""}).zones[0].base_url == "https://default.example"


def test_an_empty_variable_without_a_default_is_reported_as_not_set() -> None:
    with pytest.raises(ConfigError, match="environment variable URL is not set"):
        loads("zones:\n  - name: a\n    base_url: ${URL}\n", env={"URL": ""})


def test_interpolation_applies_to_values_not_to_keys_written_literally() -> None:
    config = loads(
        "checks:\n  - name: a\n    url: https://x.example/\n    tags: {owner: '${TEAM}'}\n",
        env={"TEAM": "web"},
    )
    assert config.checks[0].tags == {"owner": "web"}


def test_password_and_token_files_are_read_relative_to_the_config_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    config = load(GOOD / "secrets.yaml", env={})
    account, api = config.check("account"), config.check("api")
    assert isinstance(account, HttpCheck) and isinstance(api, HttpCheck)
    assert account.auth is not None and account.auth.basic is not None
    assert account.auth.basic.password == "hunter2-from-file"
    assert api.auth is not None and api.auth.bearer is not None
    assert api.auth.bearer.token == "tok-from-file"


def test_secrets_never_show_in_the_repr_of_a_loaded_check() -> None:
    config = load(GOOD / "secrets.yaml", env={})
    assert "hunter2" not in repr(config)
    assert "tok-from-file" not in repr(config)


def test_a_directory_of_yaml_files_is_merged_into_one_config() -> None:
    config = load(GOOD / "dir", env={})
    assert [c.name for c in config.checks] == ["home", "cart", "shop-dns", "shop-cert"]
    assert config.zone_names() == ["eu-west", "us-east"]
    assert config.defaults.timeout == 5.0
    assert isinstance(config.check("shop-dns"), DnsCheck)
    assert isinstance(config.check("shop-cert"), TlsCheck)
    home = config.check("home")
    assert home is not None and [a.expr for a in home.assertions] == ["status == 200", "latency < 300ms"]
    assert home.budget[0].budget is True
    cart = config.check("cart")
    assert cart is not None and config.zones_for(cart) == ["eu-west"]
    assert config.zones_for(home) == ["eu-west", "us-east"]
    assert config.base_dir == GOOD / "dir"


def test_durations_accept_units_and_plain_seconds() -> None:
    config = loads("defaults:\n  interval: 2m\n  timeout: 500ms\n  jitter: 1.5\n")
    assert (config.defaults.interval, config.defaults.timeout, config.defaults.jitter) == (120.0, 0.5, 1.5)


def test_a_check_without_a_kind_is_http() -> None:
    config = loads("checks:\n  - name: home\n    url: https://shop.example.com/\n")
    assert isinstance(config.checks[0], HttpCheck)


def test_yaml_merge_keys_share_settings_between_checks() -> None:
    text = (
        "checks:\n  - &base {name: a, url: 'https://x.example/', timeout: 3s}\n  - <<: *base\n    name: b\n"
    )
    config = loads(text)
    assert [(c.name, c.timeout) for c in config.checks] == [("a", 3.0), ("b", 3.0)]


def test_an_empty_file_is_an_empty_config() -> None:
    config = loads("")
    assert config.checks == [] and config.zone_names() == ["local"]
