"""No planted secret reaches any output: every input gets its own secret, every output is searched.

Issue #7 reproduced secrets in stored answers (a login's token), in failure text (a bearer token and
a basic header cut to 120 characters *before* redaction kept most of their characters), in echoed
requests, in a redirect's URL, and in a PostgreSQL store URL, and they reached 13 outputs. Here one
config plants a recognisable secret (``XXX-S3CRET-<random>``) in each place a secret comes from, and
its checks fail on purpose so that observed values and reasons carry what the target echoed. Each
output livesite has is collected once, then searched for every secret whole, for any prefix of six
characters or more, for its random tail, for the ``S3CRET`` marker that every secret shares, and for
the base64 form of basic auth (beyond the characters the username alone decides).
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import pytest

from cli_runner import livesite, livesite_on_terminal, start_livesite
from livesite.checks.redact import SHOWN
from livesite.testing.servers import free_port
from livesite.testing.target import TargetServer
from pg_plugin import PG_BIN

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T = TypeVar("T")

USER = "probeuser"  # not a secret: the half of basic auth a Result may show
MARKER = "S3CRET"  # in every planted secret; seeing it means part of one escaped


@dataclass(frozen=True)
class Planted:
    where: str  # the input it was planted in, for the failure message
    value: str


PASSWORD = Planted("auth.basic.password_file", "PWF-S3CRET-q7Rk2mWzX")
TOKEN = Planted("auth.bearer.token_file (18 characters)", "TKF-S3CRET-v4Xp9qL")
HEADER = Planted("${API_TOKEN} in the X-Api-Token header", "HDR-S3CRET-b8Tn3cYe")
FILE_HEADER = Planted("${file:note.txt} in the X-Client-Note header", "FIL-S3CRET-k2Jd6hQa")
ACCESS = Planted("${ACCESS} in the access= query parameter", "ACC-S3CRET-w5Gm8rUx")
API_KEY = Planted("${API_KEY} in the api_key= query parameter", "APK-S3CRET-z3Fs7nVb")
JSON_BODY = Planted("${JSON_NOTE} in the JSON body", "JSB-S3CRET-c9Hq4tKe")
RELAY = Planted("${RELAY} in a tcp send", "TCP-S3CRET-m6Lw2pDz")
LOGIN = Planted("the token a login answers", "LOG-S3CRET-r4Yc8vNs")
REDIRECT = Planted("api_key in the URL a redirect names", "RDR-S3CRET-h7Bx5kWq")
PG_PASSWORD = Planted("the password in a PostgreSQL store URL", "PGP-S3CRET-t2Nf9gJm")
PLANTED = (
    PASSWORD, TOKEN, HEADER, FILE_HEADER, ACCESS, API_KEY, JSON_BODY, RELAY, LOGIN, REDIRECT, PG_PASSWORD
)  # fmt: skip
# What basic auth sends. "probeuser:" and the password make 30 bytes, so it has no "=" padding and,
# as it happens, no "+" or "/": letters and digits that no output escapes.
WIRE = base64.b64encode(f"{USER}:{PASSWORD.value}".encode()).decode()
# base64 characters decided by "probeuser:" alone: a piece of WIRE longer than that holds password bits.
_USER_ONLY_CHARS = (len(USER) + 1) * 8 // 6
CHECKS = ("echo-env", "login", "debug", "callback", "relay", "relay-body")
ENV = {
    "API_TOKEN": HEADER.value,
    "ACCESS": ACCESS.value,
    "API_KEY": API_KEY.value,
    "JSON_NOTE": JSON_BODY.value,
    "RELAY": RELAY.value,
}
_ANSI = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")


def _answers(target: TargetServer, dead_port: int) -> None:
    """Canned answers that put secrets where the old cut at 120 characters caught them."""
    header = "Authorization: "
    target.respond(
        "/login",
        body=json.dumps(
            {
                "token": LOGIN.value,
                # A debugging server echoing the request line it got.
                "request": f"GET /login?access={ACCESS.value}&api_key={API_KEY.value} HTTP/1.1",
                # The password, its base64 and a basic header each straddle the cut: 8 characters
                # of each lie before it.
                "a": "." * (SHOWN - 8) + PASSWORD.value + " tail",
                "b": "." * (SHOWN - 8) + WIRE + " tail",
                "c": "." * (SHOWN - 8 - len(header + "Basic ")) + f"{header}Basic {WIRE} tail",
            }
        ),
        headers={"Content-Type": "application/json"},
    )
    target.respond(
        "/debug",
        body=json.dumps(
            {
                # 16 of the token's 18 characters before the cut: what issue #7 saw kept.
                "d": "." * (SHOWN - 16) + TOKEN.value + " tail",
                "e": "." * (SHOWN - 16 - len(header + "Bearer ")) + f"{header}Bearer {TOKEN.value} tail",
            }
        ),
        headers={"Content-Type": "application/json"},
    )
    # Nothing listens on dead_port: the redirect's URL ends up in a connect failure's message.
    callback = f"http://127.0.0.1:{dead_port}/callback?api_key={REDIRECT.value}&step=2"
    target.respond("/go", 302, headers={"Location": callback})


def _write_config(folder: Path, target: TargetServer) -> Path:
    (folder / "password.txt").write_text(PASSWORD.value + "\n")
    (folder / "token.txt").write_text(TOKEN.value + "\n")
    (folder / "note.txt").write_text(FILE_HEADER.value)
    config = folder / "checks.yaml"
    config.write_text(
        f"""
defaults: {{interval: 1s, timeout: 3s, failure_threshold: 1, success_threshold: 1}}
store: {{url: "sqlite:///monitor.db"}}
checks:
  - name: echo-env
    method: POST
    url: "{target.url("/echo")}?access=${{ACCESS}}&api_key=${{API_KEY}}&page=2"
    headers:
      X-Api-Token: "${{API_TOKEN}}"
      X-Client-Note: "${{file:note.txt}}"
    json: {{note: "${{JSON_NOTE}}", page: 2}}
    auth: {{bearer: {{token_file: token.txt}}}}
    assert:
      - body contains never-there
      - json.query == nope
      - json.headers == nope
      - json.body == nope
      - json.headers.authorization == nope
  - name: login
    url: "{target.url("/login")}?access=${{ACCESS}}&api_key=${{API_KEY}}"
    auth: {{basic: {{username: {USER}, password_file: password.txt}}}}
    assert:
      - json.token exists
      - json.token == nope
      - json.request == nope
      - json.a == nope
      - json.b == nope
      - json.c == nope
      - body contains never-there
  - name: debug
    url: "{target.url("/debug")}"
    auth: {{bearer: {{token_file: token.txt}}}}
    assert: [json.d == nope, json.e == nope]
  - name: callback
    url: "{target.url("/go")}"
  - name: relay
    kind: tcp
    address: "{target.address}"
    # The target answers "404 ... no route <request target>": the secret comes back in the
    # first bytes, where an expect failure quotes them.
    send: 'GET ${{RELAY}} HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n'
    expect: "^HTTP/1.1 200"
  - name: relay-body
    kind: tcp
    address: "{target.address}"
    send: 'GET ${{RELAY}} HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n'
    expect: "${{RELAY}}"  # read on until the whole secret is there, then judge what came
    assert: [body contains never-there]
"""
    )
    return config


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _poll(fetch: Callable[[], T], until: Callable[[T], bool], timeout_seconds: float = 30) -> None:
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            if until(fetch()):
                return
        except OSError:
            pass  # the monitor is not listening yet
        if time.monotonic() > deadline:
            pytest.fail("the monitor did not reach the expected state before the deadline")
        time.sleep(0.1)  # the pace of polling; the deadline above is what waits


def _checks_in(url: str) -> set[str]:
    """The checks named in a JSON list read from the monitor (/api/results, /api/events)."""
    return {str(item["check"]) for item in json.loads(_get(url))}


def _monitor(config: Path, env: dict[str, str]) -> dict[str, str]:
    """Run the monitor until every check has failed and changed state, then read its web surface."""
    listen = f"127.0.0.1:{free_port()}"
    base = f"http://{listen}"
    proc = start_livesite(
        "monitor",
        str(config),
        "--listen",
        listen,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=config.parent,
    )
    try:
        # Every check has a Result, and its state change (written by the store's writer in batches)
        # can be read back.
        _poll(lambda: _checks_in(f"{base}/api/results"), lambda checks: checks == set(CHECKS))
        _poll(lambda: _checks_in(f"{base}/api/events"), lambda checks: checks == set(CHECKS))
        shown = {
            "monitor: the status page /": _get(f"{base}/"),
            "monitor: /api/status": _get(f"{base}/api/status"),
            "monitor: /api/results": _get(f"{base}/api/results?limit=1000"),
            "monitor: /api/events": _get(f"{base}/api/events"),
            "monitor: /metrics": _get(f"{base}/metrics"),
        }
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    shown["monitor: its log (stderr and stdout)"] = f"{stdout}\n{stderr}"
    return shown


def _store_bytes(database: Path) -> str:
    """The SQLite file as bytes (with its journal files), as text a search can read."""
    files = sorted(database.parent.glob(database.name + "*"))
    assert files, f"no store at {database}"
    return "".join(f.read_bytes().decode("latin-1") for f in files)


def _postgres_database(postgres_url: str) -> tuple[str, str]:
    """A new database on the session's PostgreSQL: (its URL with PG_PASSWORD in it, its name)."""
    parts = urlsplit(postgres_url)
    name = f"secrets_{uuid.uuid4().hex[:10]}"
    subprocess.run(
        [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(parts.port), "-U", "postgres", name],
        check=True,
        capture_output=True,
        timeout=30,
    )
    # The server trusts loopback logins, so it ignores the password; livesite must still never show it.
    return f"postgresql://postgres:{PG_PASSWORD.value}@127.0.0.1:{parts.port}/{name}", name


def _postgres_rows(url: str, name: str) -> str:
    dump = subprocess.run(
        [str(PG_BIN / "pg_dump"), "--data-only", "-h", "127.0.0.1", "-p", str(urlsplit(url).port)]
        + ["-U", "postgres", name],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return dump.stdout


@dataclass(frozen=True)
class _Command:
    args: list[str]
    exit_code: int
    terminal: bool = False  # on a pseudo-terminal, where rich draws tables and colours


def _run(command: _Command, env: dict[str, str], cwd: Path) -> str:
    if command.terminal:
        run = livesite_on_terminal(*command.args, env=env)
        code, text = run.returncode, run.output
    else:
        done = livesite(*command.args, env=env, cwd=cwd)
        code, text = done.returncode, f"{done.stdout}\n{done.stderr}"
    assert code == command.exit_code, f"livesite {' '.join(command.args)} exited {code}:\n{text[-3000:]}"
    return text


def _run_all(commands: dict[str, _Command], env: dict[str, str], cwd: Path) -> dict[str, str]:
    # Two at a time: the commands are independent and each spends most of its time starting Python.
    with ThreadPoolExecutor(max_workers=2) as pool:
        running = {name: pool.submit(_run, command, env, cwd) for name, command in commands.items()}
        return {name: future.result() for name, future in running.items()}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> dict[str, str]:
    """Every output of one config whose checks all fail with secrets in what they saw."""
    folder = tmp_path_factory.mktemp("secrets")
    env = {**os.environ, **ENV}
    check_db, monitor_db, report = folder / "check.db", folder / "monitor.db", folder / "report.xml"
    pg_url, pg_name = _postgres_database(postgres_url)
    with TargetServer(basic_auth=(USER, PASSWORD.value), bearer_token=TOKEN.value).in_thread() as target:
        _answers(target, free_port())
        config = str(_write_config(folder, target))
        shown = _run_all(
            {
                "livesite check (plain)": _Command(
                    ["check", config, "--junit", str(report), "--store", f"sqlite:///{check_db}"], 1
                ),
                "livesite check (terminal)": _Command(["check", config], 1, terminal=True),
                "livesite check --json": _Command(["check", config, "--json"], 1),
                "livesite check --store postgresql://...": _Command(["check", config, "--store", pg_url], 1),
            },
            env,
            folder,
        )
        shown["livesite check --junit FILE"] = report.read_text()
        shown.update(_monitor(folder / "checks.yaml", env))
    store = ["--store", f"sqlite:///{monitor_db}"]
    history = {
        f"livesite history {check} {form}": _Command(["history", check, *store, *extra], 0, terminal)
        for check in CHECKS
        for form, extra, terminal in (
            ("(plain)", [], False),
            ("(terminal)", [], True),
            ("--json", ["--json"], False),
        )
    }
    history["livesite history --store postgresql://..."] = _Command(
        ["history", "login", "--store", pg_url], 0
    )
    history["livesite history (empty) --store postgresql://..."] = _Command(
        ["history", "nothing-yet", "--store", pg_url], 1
    )
    history["livesite history --store postgresql://.../no_such_db"] = _Command(
        ["history", "login", "--store", pg_url.replace(pg_name, "no_such_db")], 2
    )
    shown.update(_run_all(history, env, folder))
    shown["the SQLite store of check --store (file bytes)"] = _store_bytes(check_db)
    shown["the SQLite store of the monitor (file bytes)"] = _store_bytes(monitor_db)
    shown["the PostgreSQL store (rows, as pg_dump prints them)"] = _postgres_rows(pg_url, pg_name)
    return shown


def _pieces(text: str, secret: str, shortest: int) -> str | None:
    """The longest piece of ``secret`` in ``text``, as a prefix or a suffix of at least ``shortest`` characters."""
    found = [
        piece
        for k in range(len(secret), shortest - 1, -1)
        for piece in (secret[:k], secret[-k:])
        if piece in text
    ]
    return max(found, key=len, default=None)


def _around(text: str, piece: str) -> str:
    at = text.index(piece)
    return repr(text[max(0, at - 80) : at + len(piece) + 40])


def leaks(text: str) -> list[str]:
    """One line per planted secret (or piece of one) that ``text`` shows."""
    text = _ANSI.sub("", text)  # a colour code must not hide a secret from the search
    found = []
    for planted in PLANTED:
        piece = _pieces(text, planted.value, 6)
        if piece is not None:
            found.append(f"{planted.where}: {piece!r} of {planted.value!r} in …{_around(text, piece)}…")
    piece = _pieces(text, WIRE, _USER_ONLY_CHARS + 1)
    if piece is not None:
        found.append(f"base64 of {USER}:<password_file>: {piece!r} of {WIRE!r} in …{_around(text, piece)}…")
    if not found and MARKER in text:
        found.append(f"a piece of a planted secret around {MARKER!r}: …{_around(text, MARKER)}…")
    return found


OUTPUTS = [
    "livesite check (plain)",
    "livesite check (terminal)",
    "livesite check --json",
    "livesite check --junit FILE",
    "livesite check --store postgresql://...",
    "monitor: its log (stderr and stdout)",
    "monitor: the status page /",
    "monitor: /api/status",
    "monitor: /api/results",
    "monitor: /api/events",
    "monitor: /metrics",
    *(f"livesite history {c} {form}" for form in ("(plain)", "(terminal)", "--json") for c in CHECKS),
    "livesite history --store postgresql://...",
    "livesite history (empty) --store postgresql://...",
    "livesite history --store postgresql://.../no_such_db",
    "the SQLite store of check --store (file bytes)",
    "the SQLite store of the monitor (file bytes)",
    "the PostgreSQL store (rows, as pg_dump prints them)",
]


@pytest.mark.parametrize("output", OUTPUTS)
def test_no_planted_secret_reaches_the_output(outputs: dict[str, str], output: str) -> None:
    found = leaks(outputs[output])
    assert not found, f"{output} shows secrets:\n" + "\n".join(found)


# What shows that an output's search means something: a masked secret ("****"), so secret-bearing text
# reached it. The few outputs that never carry such text show what they do carry.
EVIDENCE = {
    "monitor: /metrics": 'check="relay-body"',
    "livesite history callback (plain)": "Connection refused",  # the reason; the URL is not shown
    "livesite history callback (terminal)": "Connection refused",
}


def test_every_output_was_collected_and_carries_what_the_checks_saw(outputs: dict[str, str]) -> None:
    assert set(outputs) == set(OUTPUTS)
    missing = [o for o in OUTPUTS if EVIDENCE.get(o, "****") not in _ANSI.sub("", outputs[o])]
    assert not missing, f"these outputs never showed what the checks saw: {missing}"
