"""`livesite users provision | list | cleanup` as a user runs them, against the demo; no password,
token or session cookie of a fake user reaches any output or the store."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from cli_runner import livesite
from livesite.demo import DemoState
from livesite.users import read_accounts

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SRC = Path(__file__).resolve().parents[3] / "src"


def _env(demo: DemoState, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        **demo.env(),
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "LIVESITE_STORE": f"sqlite:///{tmp_path / 'livesite.db'}",
        "LIVESITE_USERS_FILE": str(tmp_path / "users.json"),
        "COLUMNS": "200",
    }


def test_users_are_provisioned_listed_used_and_cleaned_up_without_showing_a_secret(
    demo: DemoState, tmp_path: Path
) -> None:
    env = _env(demo, tmp_path)
    config = str(EXAMPLES / "users.yaml")
    outputs: list[str] = []

    def run(*args: str, code: int = 0) -> str:
        done = livesite(*args, env=env)
        outputs.extend([done.stdout, done.stderr])
        assert done.returncode == code, done.stdout + done.stderr
        return done.stdout

    planned = run("users", "provision", config, "--dry-run")
    assert planned.count("would register") == 4 and not (tmp_path / "users.json").exists()
    provisioned = run("users", "provision", config)
    assert provisioned.count("registered") == 4
    assert "every user is provisioned" in run("users", "provision", config), "a second run has nothing to do"
    accounts = read_accounts(tmp_path / "users.json")
    assert sorted(accounts) == ["free-eu-1", "free-eu-2", "pro-us-1", "pro-us-2"]

    lines = run("check", config)
    assert "✓ whoami @ zone-a as free-eu-" in lines and "✓ whoami @ zone-b as pro-us-" in lines, lines
    checked = run("check", config, "--json", "--store", env["LIVESITE_STORE"])
    assert checked.count('"status": "ok"') >= 2 or checked.count('"status":"ok"') >= 2, checked

    listed = run("users", "list", config)
    for user in accounts:
        assert user in listed
    assert "plan=free" in listed and "locale=en-US" in listed and "ready" in listed

    # What the demo issued to these users: every token and refresh token of their sessions.
    emails = [a.username for a in accounts.values()]
    with sqlite3.connect(demo.db_path) as db:
        marks = ",".join("?" * len(emails))
        issued = db.execute(
            f"SELECT s.token, s.refresh_token FROM sessions s JOIN users u ON u.id = s.user_id "
            f"WHERE u.email IN ({marks})",
            emails,
        ).fetchall()
    assert issued, "the journey logged in"
    secrets = [a.password for a in accounts.values()] + [t for row in issued for t in row]

    assert run("users", "cleanup", config, "--dry-run").count("would remove") == 4
    removed = run("users", "cleanup", config)
    assert removed.count("removed") == 4
    assert read_accounts(tmp_path / "users.json") == {}

    store = b"".join(p.read_bytes() for p in tmp_path.glob("livesite.db*"))
    shown = "\n".join(outputs)
    for secret in secrets:
        for part in (secret, secret[:8], secret[-8:]):
            assert part not in shown, "a secret reached the CLI's output"
            assert part.encode() not in store, "a secret reached the store"
