"""Configs that load: environment interpolation, secrets read from files, and a directory of files merged."""

from __future__ import annotations

from pathlib import Path

import pytest

from livesite.checks import DnsCheck, HttpCheck, TcpCheck, TlsCheck
from livesite.config import load, loads
from livesite.errors import ConfigError
from livesite.testing.pki import Authority

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


# ------------------------------------------------------------------- the edges of what is allowed


def test_the_shortest_interval_and_timeout_are_allowed() -> None:
    config = loads("defaults: {interval: 100ms, timeout: 10ms, jitter: 99ms}")
    assert (config.defaults.interval, config.defaults.timeout, config.defaults.jitter) == (0.1, 0.01, 0.099)


def test_retries_may_come_back_to_back() -> None:
    assert loads("defaults: {retries: {attempts: 3, delay: 0s, max_delay: 0s}}").defaults.retries.delay == 0


@pytest.mark.parametrize("listen", ["127.0.0.1:9109", "[::1]:9109", "localhost:1", "0.0.0.0:65535"])
def test_listen_takes_an_ip_v4_or_v6_address_or_a_name_and_a_port(listen: str) -> None:
    assert loads(f"monitor: {{listen: '{listen}'}}").monitor.listen == listen


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///results.db",
        "sqlite:////var/lib/livesite/results.db",
        "postgresql://livesite:pw@db.internal:5432/livesite",
        "postgres://db.internal/livesite",
        "postgresql:///livesite",
    ],
)
def test_store_urls_of_both_schemes_are_accepted(url: str) -> None:
    assert loads(f"store: {{url: '{url}'}}").store.url == url


@pytest.mark.parametrize(
    "address", ["mail.example.com:25", "mail.example.com", "10.0.0.7:25", "[::1]:25", "[::1]"]
)
def test_a_tcp_address_is_a_host_with_or_without_a_port(address: str) -> None:
    config = loads(f"checks:\n  - {{name: smtp, kind: tcp, address: '{address}'}}\n")
    assert isinstance(config.checks[0], TcpCheck)


@pytest.mark.parametrize("nameserver", ["1.1.1.1", "1.1.1.1:53", "::1", "[::1]:5353", "ns.example.com:53"])
def test_a_nameserver_is_an_address_with_or_without_a_port(nameserver: str) -> None:
    loads(f"checks:\n  - {{name: d, kind: dns, query: shop.example.com, nameserver: '{nameserver}'}}\n")


def test_tcp_and_tls_checks_without_an_address_use_every_zones_base_url() -> None:
    text = (
        "zones:\n  - {name: eu, base_url: 'https://eu.shop.example.com'}\n"
        "  - {name: us, base_url: 'https://us.shop.example.com:8443'}\n"
        "checks:\n  - {name: port, kind: tcp}\n  - {name: cert, kind: tls}\n"
    )
    assert [c.name for c in loads(text).checks] == ["port", "cert"]


def test_a_tls_check_with_an_address_needs_no_base_url() -> None:
    loads("zones: [{name: eu}]\nchecks:\n  - {name: cert, kind: tls, address: 'shop.example.com:443'}\n")


def test_tls_files_that_load_are_accepted_relative_to_the_config(tmp_path: Path) -> None:
    ca = Authority.root(tmp_path / "pki")
    client = ca.leaf("probe", client=True)
    (tmp_path / "checks.yaml").write_text(
        "checks:\n  - name: mtls\n    url: https://shop.example.com/\n"
        "    tls: {ca_file: pki/livesite-test-ca.pem, cert_file: pki/probe.pem, key_file: pki/probe.key}\n"
        "  - {name: cert, kind: tls, address: 'shop.example.com:443', ca_file: pki/livesite-test-ca.pem}\n"
    )
    assert ca.cert.name == "livesite-test-ca.pem" and client.key.name == "probe.key"
    assert len(load(tmp_path / "checks.yaml", env={}).checks) == 2


def test_a_quoted_flow_style_assertion_holding_brackets_works() -> None:
    config = loads(
        "checks:\n  - {name: order, url: 'https://x.example/', assert: ['status in [201, 409]']}\n"
    )
    assert config.checks[0].assertions[0].expr == "status in [201, 409]"


def test_a_quoted_variable_inside_a_flow_mapping_is_filled_in() -> None:
    config = loads(
        "checks:\n  - {name: price, url: 'https://x.example/', headers: {X-Price: '${PRICE}'}}\n",
        env={"PRICE": "12.50"},
    )
    check = config.checks[0]
    assert isinstance(check, HttpCheck) and check.headers == {"X-Price": "12.50"}


def test_a_variable_repeated_by_an_alias_is_filled_in_everywhere_and_redacted_in_each_check() -> None:
    text = (
        "checks:\n  - {name: a, url: 'https://x.example/', headers: &h {Authorization: 'Bearer ${TOKEN}'}}\n"
        "  - {name: b, url: 'https://y.example/', headers: *h}\n"
    )
    config = loads(text, env={"TOKEN": "tok-123"})
    assert [c.secrets() for c in config.checks] == [["Bearer tok-123", "tok-123"]] * 2


def test_a_secret_file_with_a_byte_order_mark_and_a_trailing_newline_is_read_as_its_text(
    tmp_path: Path,
) -> None:
    (tmp_path / "token").write_bytes(b"\xef\xbb\xbftok-from-file\n")
    (tmp_path / "c.yaml").write_text(
        "checks:\n  - name: a\n    url: https://x.example/\n    auth: {bearer: {token_file: token}}\n"
    )
    check = load(tmp_path / "c.yaml", env={}).checks[0]
    assert isinstance(check, HttpCheck) and check.auth is not None and check.auth.bearer is not None
    assert check.auth.bearer.token == "tok-from-file"
