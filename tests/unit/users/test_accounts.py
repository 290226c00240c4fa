"""The provisioned users' accounts file: 0600 from the first byte, atomic, refused when others can read it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from livesite.errors import UsageError
from livesite.users.accounts import Account, read_accounts, write_accounts


def test_accounts_round_trip_in_a_file_only_its_owner_can_read(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "users.json"
    assert read_accounts(path) == {}
    alice = Account("free-eu-1", "free-eu", "a@example.test", "pw-planted-1", "JBSWY3DP", 1.0)
    write_accounts(path, {alice.id: alice})
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_accounts(path) == {"free-eu-1": alice}
    assert "pw-planted-1" not in repr(alice), "an account never prints its password"
    assert [p.name for p in path.parent.iterdir()] == ["users.json"], "no temporary file is left"


def test_a_file_others_can_read_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    write_accounts(path, {})
    os.chmod(path, 0o644)
    with pytest.raises(UsageError, match="can be read by others") as caught:
        read_accounts(path)
    assert caught.value.hint is not None and "chmod 600" in caught.value.hint


@pytest.mark.parametrize("text", ["", "not json", '{"accounts": [{"id": 1}]}', "[]"])
def test_a_damaged_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "users.json"
    path.write_text(text)
    os.chmod(path, 0o600)
    with pytest.raises(UsageError, match="cannot read the users' accounts file"):
        read_accounts(path)
