"""Provisioning against a local server: a user is kept only when its registration passed, and a TOTP
secret the site answers with is kept for two-factor logins (never shown)."""

from __future__ import annotations

import json
from pathlib import Path

from livesite.config import loads
from livesite.testing.target import TargetServer
from livesite.users import UserPool, provision, read_accounts

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"


async def test_registration_keeps_passing_users_and_the_totp_secret_it_was_given(tmp_path: Path) -> None:
    async with TargetServer() as target:
        target.respond(
            "/register", 201, json.dumps({"totp_secret": SECRET}), {"Content-Type": "application/json"}
        )
        config = loads(
            f"""
zones: [{{name: local, base_url: "{target.url("/").rstrip("/")}"}}]
store: {{url: "sqlite:///{tmp_path / "store.db"}"}}
users:
  accounts_file: {tmp_path / "users.json"}
  registration: register
  cohorts:
    - {{name: mfa, size: 2}}
    - {{name: taken, size: 1, registration: register-taken}}
checks:
  - name: register
    kind: journey
    enabled: false
    steps:
      - name: register
        method: POST
        url: /register
        json: {{email: "${{user.username}}", password: "${{user.password}}"}}
        assert: [status == 201]
        extract: {{totp_secret: json.totp_secret}}
  - name: register-taken
    kind: journey
    enabled: false
    steps:
      - {{name: register, method: POST, url: /status/409, assert: [status == 201]}}
"""
        )
        pool = await UserPool.open(config)
        try:
            outcomes = await provision(config, pool)
        finally:
            await pool.close()
    assert sorted((o.user, o.action) for o in outcomes) == [
        ("mfa-1", "registered"),
        ("mfa-2", "registered"),
        ("taken-1", "failed"),
    ]
    failed = next(o for o in outcomes if o.action == "failed")
    assert failed.reason == "assertion at step 'register': expected status == 201, observed 409"
    accounts = read_accounts(tmp_path / "users.json")
    assert sorted(accounts) == ["mfa-1", "mfa-2"], "a user whose registration failed is not kept"
    assert {a.totp_secret for a in accounts.values()} == {SECRET}
    sent = [json.loads(r.body) for r in target.received if r.path == "/register"]
    assert sorted(s["email"] for s in sent) == sorted(a.username for a in accounts.values())
    assert {s["password"] for s in sent} == {a.password for a in accounts.values()}
    for outcome in outcomes:
        assert outcome.result is not None
        shown = outcome.result.model_dump_json()
        assert SECRET not in shown
        assert all(a.password not in shown for a in accounts.values())
