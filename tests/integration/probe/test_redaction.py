"""Every string that leaves a probe is redacted by the one frame, whatever the kind put in it."""

from __future__ import annotations

import base64

from livesite.checks import RunContext, run_check
from livesite.config import Zone, loads
from livesite.testing.servers import free_port
from livesite.testing.target import TargetServer

TOKEN = "tokSECRET_bbbb22zz"  # 18 characters: the length whose prefix survived cutting before #7


async def run(yaml: str, env: dict[str, str] | None = None) -> str:
    [spec] = loads(yaml, env=env or {}).checks
    result = await run_check(spec, RunContext(zone=Zone(name="local")))
    return result.model_dump_json()


async def test_a_redirect_to_a_secret_url_on_a_dead_port_leaves_no_secret_in_the_result(
    target: TargetServer,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/callback?api_key=SECRETKEY123&step=2"
    target.respond("/login", 302, headers={"Location": dead})
    stored = await run(f"checks: [{{name: login, url: '{target.url('/login')}'}}]")
    assert "SECRETKEY123" not in stored
    assert "api_key=****" in stored and "step=2" in stored  # what is not secret stays readable


async def test_echoed_credentials_and_env_secrets_never_reach_the_result(target: TargetServer) -> None:
    stored = await run(
        f"""
checks:
  - name: echo
    url: "{target.url("/echo")}?access=${{ACCESS}}"
    headers: {{X-Custom: "${{CUSTOM}}"}}
    auth: {{bearer: {{token: {TOKEN}}}}}
    assert:
      - "body contains never-there"
      - "json.headers.authorization exists"
""",
        env={"ACCESS": "acc-7788-secret", "CUSTOM": "custom-9911-secret"},
    )
    for secret in (TOKEN, "acc-7788-secret", "custom-9911-secret"):
        assert secret not in stored
    assert "tokSEC" not in stored  # not even a prefix where an excerpt was cut


async def test_a_basic_password_is_masked_in_its_base64_form_too(target: TargetServer) -> None:
    user, password = target.basic_auth
    stored = await run(
        f"""
checks:
  - name: echo
    url: "{target.url("/echo")}"
    auth: {{basic: {{username: {user}, password: {password}}}}}
    assert: ["body contains never-there"]
"""
    )
    wire = base64.b64encode(f"{user}:{password}".encode()).decode()
    assert password not in stored and wire not in stored and wire[:12] not in stored


async def test_what_a_target_names_is_kept_bounded_and_on_one_line(target: TargetServer) -> None:
    # A revision header and a Location can be kilobytes long (up to the 16 KiB line bound); the
    # revision becomes a metrics label and a store column, the chain a stored list.
    target.respond("/long", 302, headers={"Location": "/status/200?pad=" + "p" * 10_000})
    target.respond("/status/200", 200, "ok", headers={"X-Version": "v\t" + "9" * 10_000})
    [spec] = loads(f"checks: [{{name: long, url: '{target.url('/long')}'}}]").checks
    result = await run_check(spec, RunContext(zone=Zone(name="local")))
    assert result.passed, result.reason()
    assert len(result.revision) <= 121 and "\t" not in result.revision
    assert result.http is not None and all(len(u) <= 2049 for u in result.http.redirects)
    assert len(result.target) <= 2049
