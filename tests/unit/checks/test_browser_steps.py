"""Browser journeys are checked at load: each bad step is a config error at the key that causes it."""

from __future__ import annotations

import pytest

from livesite.checks.browser import BrowserCheck
from livesite.config import loads
from livesite.errors import ConfigError

HEAD = """zones:
  - name: local
    base_url: http://127.0.0.1:9
checks:
  - name: journey
    kind: browser
"""


def _error(body: str) -> str:
    with pytest.raises(ConfigError) as caught:
        loads(HEAD + body, file="b.yaml")
    return str(caught.value)


def test_a_journey_of_every_step_loads() -> None:
    config = loads(
        HEAD
        + """    url: /login
    steps:
      - fill: "#email"
        value: ${user.username}
      - fill: "#password"
        value: ${user.password}
      - select: "#plan"
        value: ${user.plan}
      - click: text=Sign in
      - expect_text: Signed in
        selector: "#login-status"
      - expect_url: /login
      - wait: 200ms
      - wait_for: "#done"
      - goto: /search?q=${run.nonce}
      - script: asyncio:sleep
""",
        file="b.yaml",
    )
    check = config.check("journey")
    assert isinstance(check, BrowserCheck)
    assert [s.action for s in check.steps][:3] == ["fill", "fill", "select"]
    assert check.steps[0].title(0) == "1 fill #email"
    assert check.steps[6].wait == 0.2


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        ("    steps:\n      - fill: '#e'\n        value: ${user.nickname}\n", "b.yaml:9", "${user.nickname}"),
        (
            "    steps:\n      - goto: /x/${steps.login.token}\n",
            "b.yaml:8",
            "browser steps extract no values",
        ),
        ("    steps:\n      - goto: /${run.when}\n", "b.yaml:8", "run has id, nonce, now, zone"),
        ("    steps:\n      - goto: /\n        click: a\n", "b.yaml:8", "not goto and click together"),
        ("    steps:\n      - fill: '#email'\n", "b.yaml:8", "steps[0].fill (check 'journey'): needs value"),
        (
            "    steps:\n      - click: a\n        value: x\n",
            "b.yaml:9",
            "value (check 'journey'): belongs to fill",
        ),
        ("    steps:\n      - {}\n", "b.yaml:8", "exactly one of goto"),
        ("    steps: []\n", "b.yaml:5", "has no steps"),
        ("    steps:\n      - script: no_such_module_xyz:run\n", "b.yaml:8", "does not import"),
        ("    steps:\n      - script: asyncio:nothing_here\n", "b.yaml:8", "has no 'nothing_here'"),
        ("    steps:\n      - script: json:dumps\n", "b.yaml:8", "not an async function"),
        ("    steps:\n      - script: just-a-name\n", "b.yaml:8", "package.module:function"),
        ("    steps:\n      - wait: 2h\n", "b.yaml:8", "at most 600s"),
        (
            "    steps:\n      - goto: file:///etc/passwd\n",
            "b.yaml:8",
            "a file: URL is not a page of the site",
        ),
        ("    steps:\n      - goto: javascript:alert(1)\n", "b.yaml:8", "a javascript: URL"),
        ("    steps:\n      - wait: soon\n", "b.yaml:8", "not a duration"),
        (
            "    executable: /no/such/chromium\n    steps:\n      - goto: /\n",
            "b.yaml:7",
            "browser executable '/no/such/chromium' not found",
        ),
    ],
)
def test_a_bad_step_is_a_config_error_at_its_line(body: str, where: str, message: str) -> None:
    error = _error(body)
    assert where in error and message in error, error


def test_a_relative_url_needs_a_base_url() -> None:
    with pytest.raises(ConfigError) as caught:
        loads("checks:\n  - name: j\n    kind: browser\n    url: /home\n", file="c.yaml")
    assert "c.yaml:4" in str(caught.value) and "base_url" in str(caught.value)


def test_chromium_timing_becomes_blackbox_phases_and_a_kept_alive_connection_has_no_connect() -> None:
    from livesite.checks.browsing.journey import phases_of

    fresh = {
        "startTime": 1.7e12,
        "domainLookupStart": 0.5,
        "domainLookupEnd": 2.5,
        "connectStart": 2.5,
        "secureConnectionStart": 4.0,
        "connectEnd": 10.0,
        "requestStart": 10.5,
        "responseStart": 40.5,
        "responseEnd": 45.5,
    }
    phases = phases_of(fresh)
    got = (phases.resolve, phases.connect, phases.tls, phases.processing, phases.transfer)
    assert got == pytest.approx((0.002, 0.0015, 0.006, 0.03, 0.005))
    reused = {**fresh, "domainLookupStart": -1, "domainLookupEnd": -1, "connectStart": -1,
              "secureConnectionStart": -1, "connectEnd": -1}  # fmt: skip
    assert phases_of(reused).model_dump() == {
        **phases.model_dump(),
        "resolve": 0.0,
        "connect": 0.0,
        "tls": 0.0,
    }
