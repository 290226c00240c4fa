"""Whatever text or structure a user feeds it, the loader raises ConfigError or nothing: never a traceback."""

from __future__ import annotations

import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livesite.config import loads
from livesite.errors import ConfigError

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
        "auth",
        "basic",
        "bearer",
        "password",
        "password_file",
        "token_file",
        "json",
        "form",
        "body",
        "tls",
        "verify",
        "query",
        "address",
        "base_url",
        "resolve",
        "retries",
        "attempts",
        "monitor",
        "store",
        "zones",
        "version",
        "headers",
        "method",
        "max_redirects",
        "<<",
        "record_type",
        "nameserver",
        "tags",
    ]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "http",
            "dns",
            "tls",
            "tcp",
            "ftp",
            "30s",
            "5 minutes",
            "-1s",
            "status == 200",
            "latency <",
            "/cart",
            "https://shop.example.com/",
            "${HOME_URL}",
            "${X:-d}",
            "$$",
            "${",
            "${file:nope}",
            "A",
            "GET",
            "eu",
        ]
    ),
    st.text(max_size=12),
)
_DATA = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(_KEYS | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=25,
)
_YAMLISH = st.text(alphabet=string.printable + "&*!|>%@`{}[]-:#?\u00e9\t", max_size=200)


def _only_config_errors(text: str) -> None:
    try:
        loads(text, file="fuzz.yaml", env={"HOME_URL": "https://shop.example.com"})
    except ConfigError as e:
        assert str(e)  # and it renders


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_YAMLISH)
def test_random_yaml_ish_text_raises_only_config_errors(text: str) -> None:
    _only_config_errors(text)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _DATA, max_size=4))
def test_random_structures_raise_only_config_errors(data: dict[str, object]) -> None:
    _only_config_errors(yaml.safe_dump(data, allow_unicode=True))


_CHECK = st.fixed_dictionaries(
    {"name": st.sampled_from(["home", "cart", "home", "x y"]), "url": _SCALARS},
    optional={
        "kind": st.sampled_from(["http", "dns", "tls", "tcp", "ftp"]),
        "assert": st.lists(_SCALARS, max_size=3),
        "zones": st.lists(st.sampled_from(["eu", "us", "nope"]), max_size=2),
        "auth": _DATA,
        "timeout": _SCALARS,
        "tls": _DATA,
        "query": _SCALARS,
    },
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_CHECK, max_size=4),
    st.lists(
        st.fixed_dictionaries({"name": st.sampled_from(["eu", "us"])}, optional={"base_url": _SCALARS}),
        max_size=3,
    ),
)
def test_random_checks_and_zones_raise_only_config_errors(
    checks: list[dict[str, object]], zones: list[dict[str, object]]
) -> None:
    _only_config_errors(yaml.safe_dump({"zones": zones, "checks": checks}, allow_unicode=True))
