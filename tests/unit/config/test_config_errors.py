"""One bad config file per error, each next to the exact message it must produce (file:line:col included)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from livesite.config import load, loads, yamlsource
from livesite.config.files import CONFIG_MAX_BYTES, SECRET_MAX_BYTES
from livesite.errors import ConfigError
from livesite.testing.pki import Authority

HERE = Path(__file__).parent
BAD = sorted(p.name for p in (HERE / "bad").glob("*.yaml"))


def test_every_bad_config_has_an_expected_message() -> None:
    assert len(BAD) >= 12
    missing = [name for name in BAD if not (HERE / "bad" / name).with_suffix(".expected").exists()]
    assert missing == []


@pytest.mark.parametrize("name", BAD)
def test_a_bad_config_is_reported_with_file_line_column_and_hint(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(HERE)  # so that messages name the file as bad/<name>, the same on every machine
    path = Path("bad") / name
    expected = path.with_suffix(".expected").read_text(encoding="utf-8").rstrip("\n")
    with pytest.raises(ConfigError) as caught:
        load(path, env={})
    assert str(caught.value) == expected
    assert caught.value.exit_code == 2


def test_a_config_error_carries_its_position_as_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    with pytest.raises(ConfigError) as caught:
        load(Path("bad/unknown-key.yaml"), env={})
    error = caught.value
    assert (error.file, error.line, error.col) == ("bad/unknown-key.yaml", 4, 5)
    assert error.hint == "did you mean 'follow_redirects'?"


def test_a_missing_config_file_says_so() -> None:
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.yaml"):
        load(HERE / "nope.yaml")


def test_a_directory_without_yaml_files_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \*\.yaml files in directory"):
        load(tmp_path)


def test_a_duplicate_check_across_files_of_a_directory_names_both_places(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("checks:\n  - name: home\n    url: https://a.example/\n")
    (tmp_path / "b.yaml").write_text("checks:\n  - name: home\n    url: https://b.example/\n")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'b.yaml'}:2:11: check 'home' is defined twice "
        f"(hint: first defined at {tmp_path / 'a.yaml'}:2:11; check names must be unique)"
    )


def test_two_defaults_sections_in_one_directory_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("defaults:\n  timeout: 5s\n")
    (tmp_path / "b.yaml").write_text("defaults:\n  timeout: 9s\n")
    with pytest.raises(ConfigError, match="'defaults' is also set in"):
        load(tmp_path)


# ------------------------------------------------------------------ files that are not config text


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_as_the_config_path_is_refused_without_reading_it(device: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(device, env={})
    assert str(caught.value) == (
        f"{device}: config file {device} is a character device; livesite reads only regular files"
    )


def test_a_fifo_as_the_config_path_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "checks.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"is a named pipe \(FIFO\); livesite reads only regular files"):
        load(fifo, env={})
    with pytest.raises(ConfigError, match=r"is a named pipe \(FIFO\)"):
        load(tmp_path, env={})  # a directory whose *.yaml is a FIFO


@pytest.mark.parametrize("key", ["password_file", "${file:...}"])
def test_a_fifo_as_a_secret_file_is_refused_without_waiting_for_a_writer(tmp_path: Path, key: str) -> None:
    os.mkfifo(tmp_path / "secret")
    secret = (
        "auth: {basic: {username: probe, password_file: secret}}"
        if key == "password_file"
        else "headers: {X-Token: '${file:secret}'}"
    )
    (tmp_path / "checks.yaml").write_text(
        f"checks:\n  - name: a\n    url: https://x.example/\n    {secret}\n"
    )
    with pytest.raises(ConfigError, match=r"checks\.yaml:4:\d+: .*secret is a named pipe \(FIFO\)"):
        load(tmp_path / "checks.yaml", env={})


def test_a_real_binary_as_a_file_interpolation_is_not_utf8_text(tmp_path: Path) -> None:
    binary = Path("/bin/true")
    if not binary.is_file():
        pytest.skip("no /bin/true here")
    (tmp_path / "c.yaml").write_text("checks:\n  - name: a\n    url: https://x.example/${file:/bin/true}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:3:10: secret file /bin/true is not UTF-8 text: byte 0x"):
        load(tmp_path / "c.yaml", env={})


def test_a_config_file_over_8_mib_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(CONFIG_MAX_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ConfigError) as caught:
        load(big, env={})
    assert str(caught.value) == f"{big}: config file {big} is larger than 8 MiB"


def test_config_text_over_8_mib_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^<string>: the config is larger than 8 MiB$"):
        loads("#" * (CONFIG_MAX_BYTES + 1))


def test_a_secret_file_over_64_kib_is_refused(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t" * (SECRET_MAX_BYTES + 1))
    (tmp_path / "c.yaml").write_text(
        "checks:\n  - name: a\n    url: https://x.example/\n    auth: {bearer: {token_file: token}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "c.yaml", env={})
    assert str(caught.value) == (
        f"{tmp_path / 'c.yaml'}:4:33: checks[0].auth.bearer.token_file (check 'a'): "
        f"secret file {tmp_path / 'token'} is larger than 64 KiB"
    )


def test_a_secret_of_exactly_64_kib_is_read() -> None:
    token = "t" * SECRET_MAX_BYTES
    config = loads(
        "checks:\n  - name: a\n    url: https://x.example/\n    headers: {X-Token: '${T}'}\n",
        env={"T": token},
    )
    assert config.checks[0].model_dump()["headers"]["X-Token"] == token


def test_a_billion_laughs_file_is_refused_before_any_value_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    # Counting, not timing: the refusal must come from the node graph alone (a few hundred steps),
    # never from building values until a limit is hit (7.6 s and 483 MB for the file in issue #7).
    def no_building(*args: object) -> None:
        raise AssertionError("values were built before the expansion was refused")

    monkeypatch.setattr(yamlsource, "_Builder", no_building)
    text = (HERE / "bad" / "alias-bomb-maps.yaml").read_text() + "".join(
        f"{name}: &{name} {{{', '.join(f'k{i}: *{prev}' for i in range(10))}}}\n"
        for prev, name in zip("ijklmnopq", "jklmnopqr", strict=True)
    )  # 10^18 values
    with pytest.raises(ConfigError, match="this value expands to more than 1,000,000 values"):
        loads(text)


def test_a_config_that_shares_an_anchor_among_many_checks_loads() -> None:
    text = (
        "zones: [{name: eu, base_url: 'https://x.example'}]\n"
        "checks:\n  - {name: c0, url: /, zones: &eu [eu]}\n"
        + "".join(f"  - {{name: c{i}, url: /, zones: *eu}}\n" for i in range(1, 2000))
    )
    assert len(loads(text).checks) == 2000


def test_an_encrypted_client_key_is_an_error_not_a_passphrase_prompt(tmp_path: Path) -> None:
    # OpenSSL asks for the passphrase on the terminal when given none: a monitor would wait forever.
    client = Authority.root(tmp_path).leaf("probe", client=True)
    key = serialization.load_pem_private_key(client.key.read_bytes(), password=None)
    client.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    (tmp_path / "c.yaml").write_text(
        "checks:\n  - name: mtls\n    url: https://shop.example.com/\n"
        "    tls: {cert_file: probe.pem, key_file: probe.key}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "c.yaml", env={})
    assert str(caught.value) == (
        f"{tmp_path / 'c.yaml'}:4:22: check 'mtls': cert_file {tmp_path / 'probe.pem'} cannot be used: "
        "the key is encrypted; livesite cannot ask for its passphrase"
    )
