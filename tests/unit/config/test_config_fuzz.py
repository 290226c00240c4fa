"""Whatever text or structure a user feeds it, the loader answers as ``livesite validate`` must.

Either a Config comes back, which plans without error and whose every run has finite, positive
durations, or a ConfigError whose every message starts with ``file:line:col`` (exit 2). Never another
exception, never a hang: each example runs under a time limit. Inputs are random structures,
random YAML-ish text, random YAML with anchors, aliases, merge keys and tags, and mutations of the
shipped examples and of this folder's good and bad configs.

Bounded for ``make test``: about 1,500 examples in all, well under a minute on one core.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import string
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livesite.config import Config, load, loads
from livesite.config.types import MIN_INTERVAL_SECONDS, MIN_TIMEOUT_SECONDS
from livesite.errors import ConfigError, ConfigErrors
from livesite.monitor.plan import plan

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).parent
SEEDS = sorted(
    [
        *ROOT.glob("examples/**/*.yaml"),
        *HERE.glob("good/**/*.yaml"),
        *HERE.glob("good/**/*.yml"),
        *HERE.glob("bad/*.yaml"),
    ]
)
ENV = {
    "HOME_URL": "https://shop.example.com",
    "SHOP_URL": "https://eu.shop.example.com",
    "REGION": "eu",
    "LIVESITE_DEMO_ZONE_A_URL": "https://a.shop.example.com",
    "LIVESITE_DEMO_ZONE_B_URL": "https://b.shop.example.com:8443",
    "LIVESITE_DEMO_PARTNER_URL": "https://partner.example.com",
    "NAN": "nan",
    "NEWLINE": "a\r\nHost: evil.example",
}
TIME_LIMIT_SECONDS = 10.0  # per example; the slowest seen is about 0.1 s
_POSITION_RE = re.compile(r"^fuzz\.yaml:\d+:\d+: ")

# Files that must never be read as config text or secrets: endless, binary, or blocking (a FIFO,
# made per module below and named FIFO here).
_HOSTILE_FILES = ["/dev/zero", "/dev/urandom", "/bin/true", "/", "/etc/hostname", "nope", "FIFO"]

_KEYS = st.sampled_from(
    [
        "checks",
        "zones",
        "defaults",
        "name",
        "kind",
        "url",
        "assert",
        "budget",
        "timeout",
        "interval",
        "jitter",
        "auth",
        "basic",
        "bearer",
        "username",
        "password",
        "password_file",
        "token",
        "token_file",
        "json",
        "form",
        "body",
        "tls",
        "verify",
        "ca_file",
        "cert_file",
        "key_file",
        "query",
        "address",
        "expect",
        "send",
        "base_url",
        "resolve",
        "retries",
        "attempts",
        "delay",
        "max_delay",
        "strategy",
        "monitor",
        "listen",
        "concurrency",
        "store",
        "raw_retention",
        "aggregate_retention",
        "version",
        "headers",
        "method",
        "max_redirects",
        "<<",
        "record_type",
        "nameserver",
        "tags",
        "enabled",
        "failure_threshold",
        "success_threshold",
        "user_agent",
        "revision_header",
    ]
)
_HOSTILE_TEXT = st.sampled_from(
    [
        "http",
        "dns",
        "tls",
        "tcp",
        "ftp",
        "30s",
        "0s",
        "0",
        "100ms",
        "99ms",
        "5 minutes",
        "-1s",
        "1e400",
        "status == 200",
        "status === 200",
        "status in [201, 409]",
        "latency <",
        "(",
        "/cart",
        "/a b",
        "https://shop.example.com/",
        "https://shop.example.com:99999/",
        "https://shop.example.com:abc/",
        "http://[::1",
        "127.0.0.1:70000",
        "127.0.0.1:0",
        "[::1]:9109",
        "::1",
        "garbage",
        "host:",
        ":9109",
        "postgresql://u@127.0.0.1:abc/db",
        "postgresql://u:pw@db/x",
        "sqlite:///x.db",
        "sqlite://",
        "mysql://x",
        "${HOME_URL}",
        "${HOME_URL}/x",
        "${X:-d}",
        "${NAN}",
        "${NEWLINE}",
        "$$",
        "${",
        "${file:nope}",
        *(f"${{file:{f}}}" for f in _HOSTILE_FILES),
        *_HOSTILE_FILES,
        "A",
        "GET",
        "eu",
        "a\r\nb",
        "\x00",
        "\x07",
        "\u2028",
        "\ufeff",
    ]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, 1, -1, 2**63, 10**400, 65536]),
    st.floats(allow_nan=True, allow_infinity=True),
    _HOSTILE_TEXT,
    st.text(max_size=12),
)
_DATA = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(_KEYS | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=25,
)
_YAMLISH = st.text(alphabet=string.printable + "&*!|>%@`{}[]-:#?\u00e9\t\x00\x07\x85\u2028", max_size=200)


# ------------------------------------------------------------------------------------- the oracle


class Hung(Exception):
    """An example outlived TIME_LIMIT_SECONDS."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (a blocked read included) with :class:`Hung`.

    pytest-timeout arms the same timer for the whole test: its remaining time is put back after.
    """

    def hung(signum: int, frame: object) -> None:
        raise Hung(f"no answer within {seconds} s")

    started = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, hung)
    previous_left, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_left:
            signal.setitimer(signal.ITIMER_REAL, max(previous_left - (time.monotonic() - started), 0.001))


def _validate(text: str, fifo: Path) -> None:
    """What ``livesite validate`` promises, through the Python API."""
    text = text.replace("FIFO", str(fifo))
    try:
        with _time_limit(TIME_LIMIT_SECONDS):
            config = loads(text, file="fuzz.yaml", env=ENV)
    except ConfigError as e:
        errors = e.errors if isinstance(e, ConfigErrors) else [e]
        assert errors
        for error in errors:
            assert error.file == "fuzz.yaml" and error.line is not None, str(error)
            assert _POSITION_RE.match(str(error)), str(error)
        return
    _runs(config)


def _runs(config: Config) -> None:
    """A config that loads must plan, and every run must have a sane schedule."""
    jobs = plan(config).jobs
    for job in jobs:
        assert job.interval_seconds >= MIN_INTERVAL_SECONDS and math.isfinite(job.interval_seconds)
        assert job.timeout_seconds >= MIN_TIMEOUT_SECONDS and math.isfinite(job.timeout_seconds)
        assert 0 <= job.jitter_seconds < job.interval_seconds
        assert math.isfinite(job.retries.delay) and math.isfinite(job.retries.max_delay)
        for attempt in range(2, job.retries.attempts + 1):
            assert math.isfinite(job.retries.delay_before(attempt))
    for check in config.checks:
        check.rules()
        check.secrets()
        json.dumps(getattr(check, "json_body", None), allow_nan=False)  # a body that can be sent
    config.model_dump_json()


@pytest.fixture(scope="module")
def fifo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "fifo"
    os.mkfifo(path)  # nobody ever writes to it: reading it would block forever
    return path


_FUZZ = settings(
    max_examples=250,
    deadline=5000,  # ms; far above the slowest example, so only a real stall fails
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


# ------------------------------------------------------------------------------------ the inputs


@_FUZZ
@given(_YAMLISH)
def test_random_yaml_ish_text_loads_or_says_where_it_is_wrong(fifo: Path, text: str) -> None:
    _validate(text, fifo)


@_FUZZ
@given(st.dictionaries(_KEYS, _DATA, max_size=4))
def test_random_structures_load_or_say_where_they_are_wrong(fifo: Path, data: dict[str, object]) -> None:
    _validate(yaml.safe_dump(data, allow_unicode=True), fifo)


_CHECK = st.fixed_dictionaries(
    {"name": st.sampled_from(["home", "cart", "home", "x y"]), "url": _SCALARS},
    optional={
        "kind": st.sampled_from(["http", "dns", "tls", "tcp", "ftp"]),
        "assert": st.lists(_SCALARS, max_size=3),
        "zones": st.lists(st.sampled_from(["eu", "us", "nope"]), max_size=2),
        "auth": _DATA,
        "timeout": _SCALARS,
        "interval": _SCALARS,
        "jitter": _SCALARS,
        "tls": _DATA,
        "query": _SCALARS,
        "address": _SCALARS,
        "expect": _SCALARS,
        "headers": st.dictionaries(_HOSTILE_TEXT | st.text(max_size=6), _SCALARS, max_size=2),
        "retries": st.fixed_dictionaries({}, optional={"attempts": _SCALARS, "delay": _SCALARS}),
    },
)


@_FUZZ
@given(
    st.lists(_CHECK, max_size=4),
    st.lists(
        st.fixed_dictionaries(
            {"name": st.sampled_from(["eu", "us"])}, optional={"base_url": _SCALARS, "resolve": _DATA}
        ),
        max_size=3,
    ),
    st.fixed_dictionaries(
        {}, optional={"interval": _SCALARS, "timeout": _SCALARS, "jitter": _SCALARS, "retries": _DATA}
    ),
    st.fixed_dictionaries({}, optional={"listen": _SCALARS, "concurrency": _SCALARS}),
    st.fixed_dictionaries({}, optional={"url": _SCALARS, "raw_retention": _SCALARS}),
)
def test_random_checks_zones_and_settings_load_or_say_where_they_are_wrong(
    fifo: Path,
    checks: list[dict[str, object]],
    zones: list[dict[str, object]],
    defaults: dict[str, object],
    monitor: dict[str, object],
    store: dict[str, object],
) -> None:
    data = {"zones": zones, "checks": checks, "defaults": defaults, "monitor": monitor, "store": store}
    _validate(yaml.safe_dump(data, allow_unicode=True), fifo)


# Lines that exercise what YAML itself can do: anchors, aliases, merge keys, tags, flow style.
_YAML_LINES = st.sampled_from(
    [
        "a: &a [1, 2, 3]",
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a]",
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]",
        "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
        "m: &m {k: *a, j: *a}",
        "n: &n {<<: *m, l: *m}",
        "o: {<<: [*m, *n]}",
        "r: &r [*r]",
        "defaults: &d {interval: 30s, timeout: 5s}",
        "defaults: {<<: *d, jitter: .inf}",
        "defaults: {interval: !!float .nan}",
        "defaults: {interval: !!int 0}",
        "defaults: {timeout: !!timestamp 2020-01-01}",
        "defaults: {interval: !!str 0}",
        "x: !!timestamp notatime",
        "x: !!binary '%%%'",
        "x: !!set {a, b}",
        "x: !!omap [a, b]",
        "x: !!python/object:os.system ls",
        "x: !custom 1",
        "x: !!int 9999999999999999999999999999999999999999",
        "checks:",
        "  - &c1 {name: a, url: 'https://x.example/', assert: [status == 200]}",
        "  - {<<: *c1, name: b}",
        "  - {name: t, kind: tcp, expect: '('}",
        "  - {name: t2, kind: tcp, address: 'x:70000'}",
        "  - {name: s, kind: tls}",
        "  - {name: d, kind: dns, query: x.example, nameserver: '1.1.1.1:dns'}",
        "  - name: f",
        "    url: https://x.example/",
        "    assert: [status in [201, 409]]",
        "    headers: {X-Price: ${PRICE}}",
        "    assert:",
        "      - status: 200",
        "      - [status == 200]",
        "    zones: []",
        "    zones: *a",
        "monitor: {listen: '127.0.0.1:70000'}",
        "monitor: {listen: garbage, concurrency: 0}",
        "store: {url: 'postgresql://u@127.0.0.1:abc/db'}",
        "zones: [{name: eu, base_url: 'https://x.example', resolve: {x.example: localhost}}]",
        "? [complex, key]",
        ": value",
        "[",
        "'unterminated",
        "--- !!map",
        "%YAML 1.1",
        "...",
    ]
)


@_FUZZ
@given(st.lists(_YAML_LINES, min_size=1, max_size=12))
def test_random_yaml_with_aliases_merges_and_tags_loads_or_says_where_it_is_wrong(
    fifo: Path, lines: list[str]
) -> None:
    _validate("\n".join(lines) + "\n", fifo)


# ----------------------------------------------------------------------- mutations of real configs

_INSERTS = st.sampled_from(
    [
        "\x00",
        "\x07",
        "\t",
        "\ufffe",
        "[",
        "]",
        "{",
        "}",
        "&x ",
        "*x",
        "!!timestamp ",
        "!!binary ",
        "<<: ",
        "'",
        '"',
        "#",
        ": ",
        "- ",
        "\n",
        "\n  ",
        "${",
        "${file:/dev/zero}",
        "${file:FIFO}",
        "0",
        ".nan",
        ".inf",
        "-",
        "e400",
        "9" * 30,
    ]
)


def _mutate_text(text: str, draw: Callable[..., object]) -> str:
    for _ in range(int(draw(st.integers(1, 4)))):  # type: ignore[call-overload]
        at = int(draw(st.integers(0, len(text))))  # type: ignore[call-overload]
        how = draw(st.sampled_from(["insert", "delete", "duplicate-line"]))
        if how == "insert":
            text = text[:at] + str(draw(_INSERTS)) + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + int(draw(st.integers(1, 20))) :]  # type: ignore[call-overload]
        else:
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            line = text[start : end if end >= 0 else len(text)]
            text = text[:start] + line + "\n" + text[start:]
    return text


def _mutate_data(data: object, draw: Callable[..., object]) -> object:
    """Replace one value anywhere in the tree with a hostile one, or drop or add a key."""
    if isinstance(data, dict) and data:
        key = draw(st.sampled_from(sorted(data, key=str)))
        how = draw(st.sampled_from(["descend", "replace", "drop", "add"]))
        out = dict(data)
        if how == "descend":
            out[key] = _mutate_data(out[key], draw)
        elif how == "replace":
            out[key] = draw(_SCALARS | _DATA)
        elif how == "drop":
            del out[key]
        else:
            out[str(draw(_KEYS))] = draw(_SCALARS)
        return out
    if isinstance(data, list) and data:
        i = int(draw(st.integers(0, len(data) - 1)))  # type: ignore[call-overload]
        out_list = list(data)
        out_list[i] = _mutate_data(out_list[i], draw) if draw(st.booleans()) else draw(_SCALARS)
        return out_list
    return draw(_SCALARS)


@_FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_example_text_loads_or_says_where_it_is_wrong(
    fifo: Path, seed: Path, data: st.DataObject
) -> None:
    text = seed.read_bytes().decode("utf-8", "replace")
    _validate(_mutate_text(text, data.draw), fifo)


@_FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_example_values_load_or_say_where_they_are_wrong(
    fifo: Path, seed: Path, data: st.DataObject
) -> None:
    try:
        parsed = yaml.safe_load(seed.read_bytes())
    except Exception:  # PyYAML's own constructors fail in many ways on the bad seeds
        return  # a bad seed PyYAML cannot read at all: its text mutations cover it
    _validate(yaml.safe_dump(_mutate_data(parsed, data.draw), allow_unicode=True), fifo)


def test_every_seed_is_found() -> None:
    assert len(SEEDS) >= 60
    assert ROOT / "examples" / "demo-checks.yaml" in SEEDS


@pytest.mark.parametrize("example", ["demo-checks.yaml", "split"])
def test_the_shipped_examples_load_plan_and_have_sane_schedules(example: str) -> None:
    _runs(load(ROOT / "examples" / example, env=ENV))
