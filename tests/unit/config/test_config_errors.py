"""One bad config file per error, each next to the exact message it must produce (file:line:col included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from livesite.config import load
from livesite.errors import ConfigError

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
