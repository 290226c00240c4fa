"""Secrets are removed when a Result is built: in URLs, in observed values, in echoed credentials."""

from __future__ import annotations

import base64
from typing import Any

from livesite.checks.redact import MASK, Redactor
from livesite.config import DnsCheck, HttpCheck
from livesite.results import AssertionOutcome


def http(**fields: Any) -> HttpCheck:
    return HttpCheck.model_validate({"name": "probe", "url": "https://shop.example.com/", **fields})


def outcome(expr: str, observed: str | None) -> AssertionOutcome:
    return AssertionOutcome(expr=expr, observed=observed, passed=False)


def test_user_info_in_a_url_is_masked() -> None:
    assert Redactor().url("https://alice:pw@shop.example.com/x") == f"https://{MASK}@shop.example.com/x"


def test_secret_looking_query_parameters_are_masked_and_others_kept() -> None:
    url = "https://shop.example.com/api?api_key=abc123&page=2&session_id=s1&sig=zz"
    assert (
        Redactor().url(url)
        == f"https://shop.example.com/api?api_key={MASK}&page=2&session_id={MASK}&sig={MASK}"
    )


def test_a_url_without_secrets_is_unchanged() -> None:
    assert (
        Redactor().url("https://shop.example.com/cart?page=2#top")
        == "https://shop.example.com/cart?page=2#top"
    )


def test_the_basic_password_and_its_base64_form_are_masked_in_observed_values() -> None:
    redactor = Redactor.for_check(http(auth={"basic": {"username": "probe", "password": "hunter2-secret"}}))
    wire = base64.b64encode(b"probe:hunter2-secret").decode()
    [masked] = redactor.outcomes([outcome("json.headers.authorization exists", f"Basic {wire}")])
    assert masked.observed == f"Basic {MASK}"
    [echoed] = redactor.outcomes([outcome("body contains x", '{"password": "hunter2-secret"}')])
    assert echoed.observed == '{"password": "****"}'


def test_a_bearer_token_and_secret_headers_of_the_check_are_masked() -> None:
    spec = http(auth={"bearer": {"token": "tok-abcdef"}}, headers={"X-Api-Key": "key-123456"})
    redactor = Redactor.for_check(spec)
    outs = redactor.outcomes([outcome("body contains a", "tok-abcdef and key-123456")])
    assert outs[0].observed == f"{MASK} and {MASK}"


def test_secret_header_subjects_have_their_values_masked_even_when_not_configured_secrets() -> None:
    outs = Redactor().outcomes(
        [
            outcome("header.Set-Cookie exists", "session=abc123; Path=/; HttpOnly"),
            outcome("header.Authorization exists", "Bearer whatever"),
        ]
    )
    assert outs[0].observed == f"session={MASK}; Path={MASK}; HttpOnly"
    assert outs[1].observed == f"Bearer {MASK}"


def test_secrets_shorter_than_four_characters_are_not_masked_everywhere() -> None:
    # Masking "ab" would garble every observed value that happens to contain those letters.
    redactor = Redactor.for_check(http(auth={"bearer": {"token": "ab"}}))
    assert redactor.text("a table") == "a table"


def test_an_outcome_without_secrets_is_returned_as_is() -> None:
    original = [outcome("status == 200", "500")]
    assert Redactor().outcomes(original) is original


def test_other_check_kinds_have_no_secrets() -> None:
    spec = DnsCheck.model_validate({"name": "d", "kind": "dns", "query": "shop.example.com"})
    assert Redactor.for_check(spec).secrets == ()
